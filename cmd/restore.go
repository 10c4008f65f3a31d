package cmd

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/idp/idp/store"
)

type restoreOptions struct {
	g       *globalOptions
	dataDir string
}

func newRestoreCommand(g *globalOptions) *cobra.Command {
	o := &restoreOptions{g: g}
	c := &cobra.Command{
		Use:   "restore FILE",
		Short: "Put a backup back as the database of --data-dir (refused while a server holds it)",
		Long: `restore checks FILE (a backup made by ` + "`idp backup`" + `: bbolt's consistency check, every
document readable) and makes it the database of --data-dir. It is refused while a running
server holds the database: stop the server first. The replaced database is kept beside it as
idp.db.pre-restore-{time}. The restored file gets the owner of the data directory, so a
service user can open what root restored.

At the next start, documents that were completed when the backup was taken are served as
they were; those that were queued or being processed resume (pages already cached are not
computed again). They need their uploaded PDF in {data-dir}/documents (or in the S3 bucket):
restore names the documents whose original is missing.`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return runRestore(cmd.Context(), o, args[0], cmd.OutOrStdout())
		},
	}
	c.Flags().StringVar(&o.dataDir, "data-dir", "./data", "directory of the database to replace")
	return c
}

func runRestore(ctx context.Context, o *restoreOptions, file string, out io.Writer) error {
	log := o.g.logger
	if log == nil {
		log = slog.Default()
	}
	info, err := store.Restore(ctx, file, o.dataDir, time.Now())
	if errors.Is(err, store.ErrLocked) {
		return fmt.Errorf("a running server holds %s: stop it first (systemctl stop idp), then restore: %w", o.dataDir, err)
	}
	if err != nil {
		return fmt.Errorf("restore %s: %w", file, err)
	}
	log.Info("Database restored", "from", file, "data_dir", o.dataDir, "documents", info.Documents, "previous", info.Previous)
	fmt.Fprintf(out, "restored %s into %s: %s\n", file, o.dataDir, describeDocs(info))
	if info.Previous != "" {
		fmt.Fprintf(out, "the database it replaced is kept as %s\n", info.Previous)
	}
	if n := len(info.MissingOriginals); n > 0 {
		shown := info.MissingOriginals[:min(n, 5)]
		more := ""
		if n > len(shown) {
			more = fmt.Sprintf(" and %d more", n-len(shown))
		}
		fmt.Fprintf(out, "warning: %d documents have no uploaded PDF under %s/documents: %s%s.\n"+
			"Copy them back from the backup of that directory; without it, those not completed cannot resume\n"+
			"(unless the S3 bucket holds them) and no page image can be drawn.\n",
			n, strings.TrimRight(o.dataDir, "/"), strings.Join(shown, ", "), more)
	}
	return nil
}
