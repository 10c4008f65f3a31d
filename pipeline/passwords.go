package pipeline

import "sync"

// keyring holds the passwords of encrypted documents, by document id, in memory only: a
// password is never written to the database, the bucket, a file or a log. It lasts while the
// process runs (page images are drawn from the file, so they need it too); after a restart a
// document that still needs its password fails with "encrypted: a password is needed", and
// a reprocess with the password runs it again.
type keyring struct {
	mu sync.Mutex
	m  map[string]string
}

func (k *keyring) set(id, password string) {
	if password == "" {
		return
	}
	k.mu.Lock()
	defer k.mu.Unlock()
	if k.m == nil {
		k.m = map[string]string{}
	}
	k.m[id] = password
}

func (k *keyring) get(id string) string {
	k.mu.Lock()
	defer k.mu.Unlock()
	return k.m[id]
}

func (k *keyring) forget(id string) {
	k.mu.Lock()
	defer k.mu.Unlock()
	delete(k.m, id)
}
