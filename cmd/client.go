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
	http   *http.Client // made on first use
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
	res, err := o.do(ctx, method, path)
	if err != nil {
		return err
	}
	defer res.Body.Close()
	body, err := io.ReadAll(io.LimitReader(res.Body, 16<<20))
	if err != nil {
		return err
	}
	if out == nil {
		return nil
	}
	return json.Unmarshal(body, out)
}

// do sends a request to the server's API and returns a successful answer, its body unread
// (the caller closes it); an error answer becomes an error carrying the server's message.
// Only the wait for the answer's headers is bounded: a body may stream for long.
func (o *clientOptions) do(ctx context.Context, method, path string) (*http.Response, error) {
	req, err := http.NewRequestWithContext(ctx, method, strings.TrimRight(o.server, "/")+path, nil)
	if err != nil {
		return nil, err
	}
	if o.token != "" {
		req.Header.Set("Authorization", "Bearer "+o.token)
	}
	if o.http == nil {
		o.http = &http.Client{Transport: &http.Transport{
			Proxy:                 http.ProxyFromEnvironment,
			ResponseHeaderTimeout: 5 * time.Minute,
		}}
	}
	res, err := o.http.Do(req)
	if err != nil {
		return nil, fmt.Errorf("the server at %s does not answer: %w", o.server, err)
	}
	if res.StatusCode < 300 {
		return res, nil
	}
	defer res.Body.Close()
	body, _ := io.ReadAll(io.LimitReader(res.Body, 64<<10))
	var e struct {
		Error string `json:"error"`
	}
	if json.Unmarshal(body, &e) == nil && e.Error != "" {
		return nil, fmt.Errorf("server: %s (%d)", e.Error, res.StatusCode)
	}
	return nil, fmt.Errorf("server: %s", res.Status)
}
