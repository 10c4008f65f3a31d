package cmd

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"sync/atomic"
	"time"

	"github.com/spf13/cobra"

	"github.com/idp/idp/httpapi"
	"github.com/idp/idp/pipeline"
)

type serveOptions struct {
	g        *globalOptions
	proc     processorOptions
	addr     string
	apiToken string
	// allowUnauthenticated lets the API answer without a token on an address other machines
	// reach; see checkExposure.
	allowUnauthenticated bool
}

func newServeCommand(g *globalOptions) *cobra.Command {
	o := &serveOptions{g: g}
	c := &cobra.Command{
		Use:   "serve",
		Short: "Run the service: resume interrupted work, process the queue, serve the API and web UI",
		Long: `serve opens the data directory, puts back every document that was being processed when the
process last stopped (even by kill -9), processes the queue, and serves the HTTP API and the
web UI on --addr. The API answers 503 until the resume is done (see /readyz).

On SIGINT or SIGTERM it stops gracefully: the HTTP server first, then the workers (running
pages get --stop-timeout to finish and be cached; interrupted documents go back to the front
of the queue), then the database.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			return runServe(cmd.Context(), o)
		},
	}
	o.proc.AddFlags(c.Flags())
	o.proc.redis = &redisOptions{}
	o.proc.redis.AddFlags(c.Flags())
	c.Flags().StringVar(&o.addr, "addr", "127.0.0.1:5015", "address of the HTTP API and web UI (loopback by default; any other address needs --api-token)")
	c.Flags().StringVar(&o.apiToken, "api-token", "", "when set, every /api call needs Authorization: Bearer <token> (health and metrics stay open); prefer IDP_API_TOKEN, which ps does not show")
	c.Flags().BoolVar(&o.allowUnauthenticated, "allow-unauthenticated", false, "serve the API without a token on an address that is not loopback (logs a warning at every start)")
	c.Flags().Var(retentionValue{&o.proc.cfg.Retain}, "retain", retainUsage)
	c.Flags().DurationVar(&o.proc.cfg.RetainEvery, "retain-interval", time.Hour, "with --retain, how often the background sweep runs")
	return c
}

// httpShutdownTimeout bounds the wait for requests in flight at stop; deploy/idp.service's
// TimeoutStopSec allows for it.
const httpShutdownTimeout = 10 * time.Second

func runServe(ctx context.Context, o *serveOptions) error {
	log := o.g.logger
	// Before anything is opened: a refused start changes nothing.
	if err := checkExposure(ctx, o.addr, o.apiToken, o.allowUnauthenticated); err != nil {
		return err
	}
	if o.proc.cfg.RetainEvery <= 0 {
		return fmt.Errorf("--retain-interval must be positive")
	}
	if o.allowUnauthenticated && o.apiToken == "" {
		log.Warn("Serving the API without authentication (--allow-unauthenticated): anyone who can reach this address can upload, read and delete every document",
			"addr", o.addr)
	}
	o.proc.redis.addr = o.addr
	a, err := openApp(&o.proc, log)
	if err != nil {
		return err
	}
	defer a.Close()

	ln, err := net.Listen("tcp", o.addr)
	if err != nil {
		return fmt.Errorf("listen on %s: %w", o.addr, err)
	}
	ready := &atomic.Bool{}
	handler := httpapi.NewHandler(httpapi.Deps{
		Processor: a.proc, DB: a.db, Token: o.apiToken, Ready: ready, Version: version, Logger: log,
		Extra: a.extraStatus, NodeID: a.nodeID(),
	})
	srv := &http.Server{
		Handler:           handler,
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       2 * time.Minute,
		WriteTimeout:      5 * time.Minute,
		IdleTimeout:       2 * time.Minute,
		MaxHeaderBytes:    64 << 10,
	}
	serveErr := make(chan error, 1)
	go func() { serveErr <- srv.Serve(ln) }()
	log.Info("HTTP listening", "addr", ln.Addr().String(), "auth", o.apiToken != "")

	// The API answers 503 until in-flight work is back in the queue.
	if err := a.proc.Start(ctx); err != nil {
		_ = srv.Close()
		return err
	}
	ready.Store(true)
	log.Info("idp serving", "addr", ln.Addr().String(), "data_dir", o.proc.dataDir, "version", version)
	if o.proc.cfg.Retain > 0 {
		log.Info("Retention on: finished documents are deleted after --retain", "retain", pipeline.FormatRetention(o.proc.cfg.Retain),
			"interval", o.proc.cfg.RetainEvery)
	}

	select {
	case <-ctx.Done():
	case err := <-serveErr:
		if !errors.Is(err, http.ErrServerClosed) {
			return fmt.Errorf("http server: %w", err)
		}
	}
	log.Info("Shutting down: HTTP first, then the workers, then the database")
	ready.Store(false)
	shutdownCtx, cancel := context.WithTimeout(context.Background(), httpShutdownTimeout)
	defer cancel()
	if err := srv.Shutdown(shutdownCtx); err != nil {
		// Event streams do not end on their own.
		_ = srv.Close()
	}
	a.proc.Stop()
	return nil
}
