package cmd

import (
	"context"

	"github.com/spf13/cobra"
)

type serveOptions struct {
	g    *globalOptions
	proc processorOptions
}

func newServeCommand(g *globalOptions) *cobra.Command {
	o := &serveOptions{g: g}
	c := &cobra.Command{
		Use:   "serve",
		Short: "Run the service: resume interrupted work, then process the queue until stopped",
		Long: `serve opens the data directory, puts back every document that was being processed when the
process last stopped (even by kill -9), and processes the queue until SIGINT or SIGTERM.
On a signal it stops gracefully: running pages get --stop-timeout to finish and be cached,
and interrupted documents go back to the front of the queue.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			return runServe(cmd.Context(), o)
		},
	}
	o.proc.AddFlags(c.Flags())
	return c
}

func runServe(ctx context.Context, o *serveOptions) error {
	log := o.g.logger
	a, err := openApp(&o.proc, log)
	if err != nil {
		return err
	}
	defer a.Close()
	if err := a.proc.Start(ctx); err != nil {
		return err
	}
	log.Info("idp serving", "data_dir", o.proc.dataDir, "version", version)
	<-ctx.Done()
	log.Info("Shutting down")
	a.proc.Stop()
	return nil
}
