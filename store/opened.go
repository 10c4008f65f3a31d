package store

import (
	"encoding/binary"
	"time"
)

// When documents were last read through the API, so that retention never sweeps one that
// someone is looking at. The processor keeps the reads in memory and records them here in
// batches: a read never becomes a write of its own.

// SetOpened records that id was read at at, unless a later read is recorded already. An
// unknown document is not recorded (a read of an id that does not exist leaves nothing).
func (tx *Tx) SetOpened(id string, at time.Time) error {
	if err := checkID(id); err != nil {
		return err
	}
	if tx.bucket(bucketDocs).Get([]byte(id)) == nil {
		return nil
	}
	if old, ok := tx.Opened(id); ok && !at.After(old) {
		return nil
	}
	v := binary.BigEndian.AppendUint64(nil, uint64(at.UnixNano()))
	return tx.bucket(bucketOpened).Put([]byte(id), v)
}

// Opened is when id was last recorded as read; ok is false when it never was.
func (tx *Tx) Opened(id string) (at time.Time, ok bool) {
	b := tx.bucket(bucketOpened)
	if b == nil {
		return time.Time{}, false
	}
	v := b.Get([]byte(id))
	if len(v) != 8 {
		return time.Time{}, false
	}
	return time.Unix(0, int64(binary.BigEndian.Uint64(v))), true
}
