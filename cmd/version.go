package cmd

import (
	"fmt"
	"runtime"

	"github.com/gen2brain/go-fitz"
	"github.com/otiai10/gosseract/v2"
	"github.com/spf13/cobra"
)

func newVersionCommand() *cobra.Command {
	return &cobra.Command{
		Use:   "version",
		Short: "Print the versions of idp and of the engines it is built with",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			fmt.Fprintf(cmd.OutOrStdout(), "idp %s (%s, %s/%s)\nMuPDF %s (go-fitz)\nTesseract %s (gosseract)\n",
				version, runtime.Version(), runtime.GOOS, runtime.GOARCH, fitz.FzVersion, gosseract.Version())
			return nil
		},
	}
}
