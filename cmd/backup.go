package cmd

import (
	"context"
	"errors"
	"fmt"
	"io"
	"maps"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/idp/idp/store"
)

type backupOptions struct {
	dataDir string
	client  clientOptions
}

func newBackupCommand() *cobra.Command {
	o := &backupOptions{}
	c := &cobra.Command{
		Use:   "backup FILE",
		Short: "Write a consistent snapshot of the database to FILE (- for stdout), while the server runs or not",
		Long: `backup writes the whole database (documents, queue, progress, cached results) as one moment
saw it: a bbolt file that ` + "`idp restore`" + ` puts back. When a running server holds the
database, the snapshot comes through its API (--server, --api-token); otherwise it is read
directly. The file is written beside FILE, synced, checked, and renamed to FILE, so FILE is
either the old backup or a whole new one.

The uploaded PDFs ({data-dir}/documents) are not in it: they are written once and never
changed, so copy that directory after the backup (deploy/idp-backup.service does both), or
let the S3 bucket keep them.`,
		Example: `  idp backup /var/backups/idp/idp-$(date +%F).db
  idp backup - | gzip > idp.db.gz`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return runBackup(cmd.Context(), o, args[0], cmd.OutOrStdout(), cmd.ErrOrStderr())
		},
	}
	c.Flags().StringVar(&o.dataDir, "data-dir", "./data", "directory of the database")
	o.client.AddFlags(c.Flags())
	return c
}

// snapshotSource writes a snapshot to w and says where it came from.
type snapshotSource func(w io.Writer) (int64, error)

func runBackup(ctx context.Context, o *backupOptions, file string, out, msgs io.Writer) error {
	src, from, done, err := o.source(ctx)
	if err != nil {
		return err
	}
	defer done()
	if file == "-" {
		n, err := src(out)
		if err != nil {
			return err
		}
		fmt.Fprintf(msgs, "backup: %d bytes to stdout, %s\n", n, from)
		return nil
	}
	info, err := writeBackup(file, src)
	if err != nil {
		return err
	}
	fmt.Fprintf(out, "backup %s: %d bytes, %s, %s\n", file, info.Size, describeDocs(info), from)
	return nil
}

// source is the server's snapshot when a server holds the database, else the file's own.
func (o *backupOptions) source(ctx context.Context) (snapshotSource, string, func(), error) {
	db, err := store.Open(o.dataDir, store.Options{ReadOnly: true, LockTimeout: 500 * time.Millisecond})
	if errors.Is(err, store.ErrLocked) {
		src := func(w io.Writer) (int64, error) {
			res, err := o.client.do(ctx, http.MethodGet, "/api/backup")
			if err != nil {
				return 0, fmt.Errorf("a running server holds %s, and asking it for a backup failed: %w", o.dataDir, err)
			}
			defer res.Body.Close()
			n, err := io.Copy(w, res.Body)
			if err != nil {
				return n, fmt.Errorf("backup from %s: %w", o.client.server, err)
			}
			if res.ContentLength >= 0 && n != res.ContentLength {
				return n, fmt.Errorf("backup from %s: got %d of %d bytes", o.client.server, n, res.ContentLength)
			}
			return n, nil
		}
		return src, "through the server at " + o.client.server, func() {}, nil
	}
	if errors.Is(err, os.ErrNotExist) {
		return nil, "", nil, fmt.Errorf("no database in %s (--data-dir): %w", o.dataDir, err)
	}
	if err != nil {
		return nil, "", nil, err
	}
	src := func(w io.Writer) (int64, error) { return db.Backup(ctx, w) }
	return src, "read directly from " + db.Path(), func() { db.Close() }, nil
}

// writeBackup writes the snapshot beside file, syncs and checks it, and renames it to file.
func writeBackup(file string, src snapshotSource) (store.BackupInfo, error) {
	dir, base := filepath.Split(file)
	if dir == "" {
		dir = "."
	}
	f, err := os.CreateTemp(dir, "."+base+".tmp-*")
	if err != nil {
		return store.BackupInfo{}, fmt.Errorf("backup: %w", err)
	}
	tmp := f.Name()
	defer os.Remove(tmp) // gone by then when the rename succeeded
	_, err = src(f)
	if err == nil {
		err = f.Chmod(0o600)
	}
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return store.BackupInfo{}, err
	}
	info, err := store.VerifyBackup(tmp)
	if err != nil {
		return info, fmt.Errorf("the backup is not usable, %s is left as it was: %w", file, err)
	}
	if err := os.Rename(tmp, file); err != nil {
		return info, fmt.Errorf("backup: %w", err)
	}
	info.Path = file
	if d, err := os.Open(dir); err == nil {
		_ = d.Sync()
		d.Close()
	}
	return info, nil
}

// describeDocs says "12 documents (10 completed, 2 queued)".
func describeDocs(info store.BackupInfo) string {
	var parts []string
	for _, st := range slices.Sorted(maps.Keys(info.ByStatus)) {
		parts = append(parts, fmt.Sprintf("%d %s", info.ByStatus[st], st))
	}
	s := fmt.Sprintf("%d documents", info.Documents)
	if len(parts) > 0 {
		s += " (" + strings.Join(parts, ", ") + ")"
	}
	return s
}
