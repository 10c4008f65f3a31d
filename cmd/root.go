// Package cmd holds idp's commands and configuration: flags, IDP_* environment variables, and
// the wiring of the store, the pipeline and the HTTP API.
//
// It is the one package that imports the concrete engines (mupdf, tesseract, rules, llm) and
// stores (store/s3) and puts them together; it may import every package of idp.
package cmd

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"strings"
	"syscall"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
)

// version is set at build time: -ldflags "-X github.com/idp/idp/cmd.version=v1.2.3".
var version = "dev"

// Execute runs the command line and exits with its status.
func Execute() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	root := NewRootCommand()
	err := root.ExecuteContext(ctx)
	stop()
	if err != nil {
		var ee exitError
		if !errors.As(err, &ee) || !ee.quiet {
			fmt.Fprintln(os.Stderr, "idp:", err)
		}
		os.Exit(1)
	}
}

// exitError ends the program with status 1; quiet when the command already said why.
type exitError struct {
	error
	quiet bool
}

// globalOptions are the flags every command has.
type globalOptions struct {
	logFormat string
	logLevel  string
	logger    *slog.Logger
}

func (o *globalOptions) AddFlags(fs *pflag.FlagSet) {
	fs.StringVar(&o.logFormat, "log-format", "text", "log format: text or json")
	fs.StringVar(&o.logLevel, "log-level", "info", "log level: debug, info, warn or error")
}

func (o *globalOptions) setupLogger(w io.Writer) error {
	var level slog.Level
	if err := level.UnmarshalText([]byte(o.logLevel)); err != nil {
		return fmt.Errorf("--log-level: %w", err)
	}
	hopts := &slog.HandlerOptions{Level: level}
	switch o.logFormat {
	case "text":
		o.logger = slog.New(slog.NewTextHandler(w, hopts))
	case "json":
		o.logger = slog.New(slog.NewJSONHandler(w, hopts))
	default:
		return fmt.Errorf("--log-format %q: want text or json", o.logFormat)
	}
	return nil
}

// NewRootCommand builds the whole command tree.
func NewRootCommand() *cobra.Command {
	g := &globalOptions{}
	root := &cobra.Command{
		Use:   "idp",
		Short: "Turn loan-document PDFs into structured data in the background",
		Long: `idp reads loan-document PDFs (bank statements, signature cards, loan applications, often
several accounts in one scanned packet), finds the accounts, maps every page to one, and
extracts each page's fields, caching every result so it survives restarts.

Every flag can also be set from the environment: --data-dir is IDP_DATA_DIR, --ocr-dpi is
IDP_OCR_DPI, and so on. A flag on the command line wins over the environment.`,
		SilenceUsage:  true,
		SilenceErrors: true,
		PersistentPreRunE: func(cmd *cobra.Command, args []string) error {
			if err := applyEnv(cmd.Flags()); err != nil {
				return err
			}
			return g.setupLogger(cmd.ErrOrStderr())
		},
	}
	g.AddFlags(root.PersistentFlags())
	root.AddCommand(
		newServeCommand(g),
		newProcessCommand(g),
		newReprocessCommand(g),
		newStatusCommand(),
		newCacheCommand(g),
		newBackupCommand(),
		newRestoreCommand(g),
		newEvalCommand(g),
		newVersionCommand(),
		newWorkerCommand(),
	)
	return root
}

// envName is the environment variable of a flag: --ocr-dpi is IDP_OCR_DPI.
func envName(flag string) string {
	return "IDP_" + strings.ToUpper(strings.ReplaceAll(flag, "-", "_"))
}

// applyEnv sets every flag not given on the command line from its IDP_* variable.
func applyEnv(fs *pflag.FlagSet) error {
	var errs []error
	fs.VisitAll(func(f *pflag.Flag) {
		if f.Changed {
			return
		}
		v, ok := os.LookupEnv(envName(f.Name))
		if !ok {
			return
		}
		if err := fs.Set(f.Name, v); err != nil {
			errs = append(errs, fmt.Errorf("%s=%q: %w", envName(f.Name), v, err))
		}
	})
	return errors.Join(errs...)
}
