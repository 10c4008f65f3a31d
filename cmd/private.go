package cmd

import (
	"context"
	"errors"
	"fmt"
	"net"
	"strings"
)

// errExposed refuses to serve documents to the network without a token.
var errExposed = errors.New("refusing to serve the API without a token on an address that is not loopback")

// checkExposure refuses an --addr that other machines can reach unless the API has a token
// or the operator said --allow-unauthenticated: the documents are bank customers' personal
// data, and without a token anyone who reaches the port can read and delete them.
func checkExposure(ctx context.Context, addr, token string, allowUnauthenticated bool) error {
	if token != "" || allowUnauthenticated {
		return nil
	}
	loopback, err := isLoopback(ctx, addr)
	if err != nil {
		return err
	}
	if loopback {
		return nil
	}
	return fmt.Errorf(`%w: --addr %q can be reached from other machines, and anyone who reaches it could upload, read and delete every document.
Do one of:
  - set a token: --api-token, or IDP_API_TOKEN in the environment (e.g. IDP_API_TOKEN=$(openssl rand -hex 32));
  - listen on loopback only (--addr 127.0.0.1:5015, the default) behind a reverse proxy with TLS (README, "Deploy on a VM");
  - pass --allow-unauthenticated if this network is private and you accept the risk`, errExposed, addr)
}

// isLoopback reports whether every address that addr names is a loopback one. An empty host
// (":5015") listens on every interface; a host name counts as loopback only when everything
// it resolves to is.
func isLoopback(ctx context.Context, addr string) (bool, error) {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return false, fmt.Errorf("--addr %q: want HOST:PORT, e.g. 127.0.0.1:5015: %w", addr, err)
	}
	if host == "" {
		return false, nil
	}
	host, _, _ = strings.Cut(host, "%") // an IPv6 zone
	if ip := net.ParseIP(host); ip != nil {
		return ip.IsLoopback(), nil
	}
	ips, err := net.DefaultResolver.LookupIPAddr(ctx, host)
	if err != nil {
		return false, fmt.Errorf("--addr %q: %w", addr, err)
	}
	for _, ip := range ips {
		if !ip.IP.IsLoopback() {
			return false, nil
		}
	}
	return len(ips) > 0, nil
}
