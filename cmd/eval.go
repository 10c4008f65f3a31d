package cmd

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"github.com/spf13/cobra"

	"github.com/idp/idp/eval"
	"github.com/idp/idp/stage"
	"github.com/idp/idp/store"
)

type evalOptions struct {
	g        *globalOptions
	proc     processorOptions
	json     bool
	progress string
}

func newEvalCommand(g *globalOptions) *cobra.Command {
	o := &evalOptions{g: g}
	c := &cobra.Command{
		Use:   "eval DIR",
		Short: "Measure accuracy on packets with ground truth",
		Long: `eval processes every NAME.pdf in DIR that has a NAME.truth.json beside it (the result format,
as the generator in testdata/gen writes it) and prints per-field precision, recall and F1,
the page -> account accuracy and the rate of exactly right account sets.

Without --data-dir it works in a temporary directory; with one, a second run reuses what the
first cached (change only the extractor, and only stage 4 runs again).`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			cleanup, err := o.proc.tempDataDirUnlessGiven(cmd, "idp-eval-")
			if err != nil {
				return err
			}
			defer cleanup()
			return runEval(cmd.Context(), o, args[0], cmd.OutOrStdout(), cmd.ErrOrStderr())
		},
	}
	o.proc.AddFlags(c.Flags())
	c.Flags().BoolVar(&o.json, "json", false, "print the scores as JSON")
	c.Flags().StringVar(&o.progress, "progress", "auto", "progress bar on stderr: auto, always or never")
	return c
}

// EvalReport is what `idp eval --json` prints.
type EvalReport struct {
	Documents        int                `json:"documents"`
	Pages            int                `json:"pages"`
	Fields           map[string]EvalPRF `json:"fields"`
	Overall          EvalPRF            `json:"overall"`
	PageAccuracy     float64            `json:"page_account_accuracy"`
	ExactAccountRate float64            `json:"exact_account_set_rate"`
	Failed           []string           `json:"failed,omitempty"`
}

// EvalPRF is one line of the report.
type EvalPRF struct {
	Precision float64 `json:"precision"`
	Recall    float64 `json:"recall"`
	F1        float64 `json:"f1"`
}

func prf(p eval.PRF) EvalPRF { return EvalPRF{p.Precision(), p.Recall(), p.F1()} }

func runEval(ctx context.Context, o *evalOptions, dir string, out, errOut io.Writer) error {
	truths, err := filepath.Glob(filepath.Join(dir, "*.truth.json"))
	if err != nil {
		return err
	}
	sort.Strings(truths)
	if len(truths) == 0 {
		return fmt.Errorf("no *.truth.json files in %s", dir)
	}
	a, err := openApp(&o.proc, o.g.logger)
	if err != nil {
		return err
	}
	defer a.Close()

	type job struct {
		truth stage.Result
		id    string
		name  string
	}
	var jobs []job
	var ids []string
	for _, t := range truths {
		b, err := os.ReadFile(t)
		if err != nil {
			return err
		}
		var want stage.Result
		if err := json.Unmarshal(b, &want); err != nil {
			return fmt.Errorf("%s: %w", t, err)
		}
		pdf := strings.TrimSuffix(t, ".truth.json") + ".pdf"
		id, err := submitFile(ctx, a, pdf, store.PriorityNormal, "")
		if err != nil {
			return fmt.Errorf("%s: %w", pdf, err)
		}
		jobs = append(jobs, job{truth: want, id: id, name: filepath.Base(pdf)})
		ids = append(ids, id)
	}
	if err := runDocuments(ctx, a, ids, o.progress, errOut); err != nil {
		return err
	}
	scores := eval.NewScores()
	var failed []string
	for _, j := range jobs {
		got, err := a.proc.Result(context.WithoutCancel(ctx), j.id)
		if err != nil {
			return err
		}
		if got.Status != string(store.StatusCompleted) {
			failed = append(failed, j.name+": "+got.Error)
		}
		scores.Add(got, j.truth)
	}
	if o.json {
		rep := EvalReport{Documents: scores.Documents, Pages: scores.Pages, Fields: map[string]EvalPRF{},
			Overall: prf(scores.Overall()), PageAccuracy: scores.PageAccuracy(), ExactAccountRate: scores.ExactAccountRate(), Failed: failed}
		for k, v := range scores.Fields {
			rep.Fields[k] = prf(*v)
		}
		enc := json.NewEncoder(out)
		enc.SetIndent("", "  ")
		return enc.Encode(rep)
	}
	fmt.Fprintf(out, "%d documents, %d pages\n", scores.Documents, scores.Pages)
	scores.Print(out)
	for _, f := range failed {
		fmt.Fprintln(out, "failed:", f)
	}
	return nil
}
