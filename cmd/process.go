package cmd

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/schollz/progressbar/v3"
	"github.com/spf13/cobra"
	"golang.org/x/term"

	"github.com/idp/idp/pipeline"
	"github.com/idp/idp/stage"
	"github.com/idp/idp/store"
)

type processOptions struct {
	g            *globalOptions
	proc         processorOptions
	priority     int
	progress     string
	passwordFile string
}

func newProcessCommand(g *globalOptions) *cobra.Command {
	o := &processOptions{g: g}
	c := &cobra.Command{
		Use:   "process FILE...",
		Short: "Process PDFs now, in this process, and print one JSON result per document",
		Long: `process runs the whole pipeline on the given PDFs in this process and prints the result of
each document as one JSON object per line, in the order of the arguments. It exits non-zero
when any file fails, and says why in that file's result ("status":"failed","error":...).

Without --data-dir it works in a temporary directory that is removed afterwards; with one,
results are cached there and an interrupted run resumes where it stopped.`,
		Args: cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			cleanup, err := o.proc.tempDataDirUnlessGiven(cmd, "idp-process-")
			if err != nil {
				return err
			}
			defer cleanup()
			return runProcess(cmd.Context(), o, args, cmd.OutOrStdout(), cmd.ErrOrStderr())
		},
	}
	o.proc.AddFlags(c.Flags())
	c.Flags().IntVar(&o.priority, "priority", 1, "queue priority: 0 high, 1 normal, 2 low")
	c.Flags().StringVar(&o.progress, "progress", "auto", "progress bar on stderr: auto (when stderr is a terminal), always or never")
	c.Flags().StringVar(&o.passwordFile, "password-file", "", "file whose first line is the password of the encrypted PDFs given (kept in memory only)")
	return c
}

func runProcess(ctx context.Context, o *processOptions, files []string, out, errOut io.Writer) error {
	if o.priority < 0 || o.priority > int(store.MaxPriority) {
		return fmt.Errorf("--priority %d: must be 0, 1 or 2", o.priority)
	}
	password, err := readPassword(o.passwordFile)
	if err != nil {
		return err
	}
	a, err := openApp(&o.proc, o.g.logger)
	if err != nil {
		return err
	}
	defer a.Close()

	results := make([]stage.Result, len(files))
	var ids []string
	for i, f := range files {
		results[i] = stage.Result{File: filepath.Base(f), Status: string(store.StatusFailed), Accounts: []stage.Account{}, Pages: []stage.PageResult{}}
		id, err := submitFile(ctx, a, f, store.Priority(o.priority), password)
		if err != nil {
			results[i].Error = err.Error()
			continue
		}
		results[i].DocID = id
		ids = append(ids, id)
	}

	if len(ids) > 0 {
		if err := runDocuments(ctx, a, ids, o.progress, errOut); err != nil {
			return err
		}
	}

	failed := 0
	enc := json.NewEncoder(out)
	for i := range results {
		if results[i].DocID != "" {
			res, err := a.proc.Result(context.WithoutCancel(ctx), results[i].DocID)
			if err != nil {
				return err
			}
			res.File = results[i].File
			results[i] = res
		}
		if results[i].Status != string(store.StatusCompleted) {
			failed++
			fmt.Fprintf(errOut, "idp: %s failed: %s\n", files[i], results[i].Error)
		}
		if err := enc.Encode(results[i]); err != nil {
			return err
		}
	}
	if failed > 0 {
		return exitError{error: fmt.Errorf("%d of %d files failed", failed, len(files)), quiet: false}
	}
	return nil
}

// readPassword is the first line of the --password-file (none without one).
func readPassword(path string) (string, error) {
	if path == "" {
		return "", nil
	}
	b, err := os.ReadFile(path)
	if err != nil {
		return "", fmt.Errorf("--password-file: %w", err)
	}
	line, _, _ := strings.Cut(string(b), "\n")
	return strings.TrimSuffix(line, "\r"), nil
}

// submitFile queues one file. A document that failed before is given a fresh set of tries
// (its cached pages are kept): asking to process it again is asking to try again.
func submitFile(ctx context.Context, a *app, path string, prio store.Priority, password string) (string, error) {
	f, err := os.Open(path)
	if err != nil {
		return "", err
	}
	defer f.Close()
	sub, err := a.proc.Submit(ctx, filepath.Base(path), f, pipeline.SubmitOptions{Priority: prio, Password: password})
	if err != nil {
		return "", err
	}
	if sub.Existing && sub.Document.Status == store.StatusFailed {
		if err := a.proc.Retry(ctx, sub.Document.ID); err != nil {
			return "", err
		}
	}
	return sub.Document.ID, nil
}

// runDocuments starts the workers, waits until every document of ids has completed or
// failed (with a progress bar on errOut as progress says), and stops them.
func runDocuments(ctx context.Context, a *app, ids []string, progress string, errOut io.Writer) error {
	if err := a.proc.Start(ctx); err != nil {
		return err
	}
	bar := newBar(progress, errOut, len(ids))
	err := waitForDocuments(ctx, a.proc, ids, bar)
	a.proc.Stop()
	if bar != nil {
		_ = bar.Finish()
		fmt.Fprintln(errOut)
	}
	return err
}

// waitForDocuments returns when every document has completed or failed. It reads the status
// of the documents an event named (all of them at the start and every half second, in case
// an event was dropped), so that its work per event does not grow with the number of
// documents.
func waitForDocuments(ctx context.Context, proc *pipeline.Processor, ids []string, bar *progressbar.ProgressBar) error {
	events, unsubscribe := proc.Broker().Subscribe(256)
	defer unsubscribe()
	tick := time.NewTicker(500 * time.Millisecond)
	defer tick.Stop()
	progress := make(map[string]int, len(ids))
	finished := make(map[string]bool, len(ids)) // completed or failed
	sum := 0
	check := func(id string) error {
		if finished[id] {
			return nil
		}
		st, err := proc.Status(context.WithoutCancel(ctx), id)
		if err != nil {
			return err
		}
		p := st.Progress
		if st.Status == string(store.StatusCompleted) || st.Status == string(store.StatusFailed) {
			p = 100
			finished[id] = true
		}
		sum += p - progress[id]
		progress[id] = p
		return nil
	}
	mine := make(map[string]bool, len(ids))
	for _, id := range ids {
		mine[id] = true
	}
	todo := ids
	for {
		for _, id := range todo {
			if err := check(id); err != nil {
				return err
			}
		}
		if bar != nil {
			_ = bar.Set(sum)
		}
		if len(finished) == len(mine) {
			return nil
		}
		todo = todo[:0:0]
		select {
		case <-ctx.Done():
			return errors.New("interrupted: finished pages are kept in the data directory")
		case e := <-events:
			// This event and whatever else is waiting: one status read per document named.
			named := map[string]bool{e.DocID: true}
		drain:
			for {
				select {
				case e := <-events:
					named[e.DocID] = true
				default:
					break drain
				}
			}
			for id := range named {
				if mine[id] {
					todo = append(todo, id)
				}
			}
		case <-tick.C:
			todo = ids
		}
	}
}

func newBar(mode string, w io.Writer, docs int) *progressbar.ProgressBar {
	show := mode == "always"
	if mode == "auto" {
		if f, ok := w.(*os.File); ok && term.IsTerminal(int(f.Fd())) {
			show = true
		}
	}
	if !show {
		return nil
	}
	return progressbar.NewOptions(docs*100,
		progressbar.OptionSetWriter(w),
		progressbar.OptionSetDescription(fmt.Sprintf("processing %d document(s)", docs)),
		progressbar.OptionShowElapsedTimeOnFinish(),
		progressbar.OptionSetPredictTime(true),
		progressbar.OptionSetWidth(40),
		progressbar.OptionThrottle(100*time.Millisecond),
	)
}
