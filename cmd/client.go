package cmd

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"

	"github.com/spf13/pflag"
)

// clientOptions reach a running server.
type clientOptions struct {
	server string
	token  string
}

func (o *clientOptions) AddFlags(fs *pflag.FlagSet) {
	fs.StringVar(&o.server, "server", "http://127.0.0.1:5015", "address of the running `idp serve`")
	fs.StringVar(&o.token, "api-token", "", "API token of the server, if it has one")
}

// call sends a request to the server's API and decodes the JSON answer into out. An answer
// with success false becomes an error carrying the server's message.
func (o *clientOptions) call(ctx context.Context, method, path string, out any) error {
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, method, strings.TrimRight(o.server, "/")+path, nil)
	if err != nil {
		return err
	}
	if o.token != "" {
		req.Header.Set("Authorization", "Bearer "+o.token)
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		return fmt.Errorf("the server at %s does not answer: %w", o.server, err)
	}
	defer res.Body.Close()
	body, err := io.ReadAll(io.LimitReader(res.Body, 16<<20))
	if err != nil {
		return err
	}
	if res.StatusCode >= 300 {
		var e struct {
			Error string `json:"error"`
		}
		if json.Unmarshal(body, &e) == nil && e.Error != "" {
			return fmt.Errorf("server: %s (%d)", e.Error, res.StatusCode)
		}
		return fmt.Errorf("server: %s", res.Status)
	}
	if out == nil {
		return nil
	}
	return json.Unmarshal(body, out)
}
