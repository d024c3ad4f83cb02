// Package healthcheck is the healthcheck binary's logic (spec cell.md §3.8,
// bridge.md §8.5): find the container's address, probe it over TCP or HTTP,
// and repeat the probe in the startup, liveness, readiness and until-ready
// modes. Every failure is an *Error that carries the binary's exit code and
// its stderr message; only main turns them into an exit.
package healthcheck

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// The exit codes of cell.md §3.8.
const (
	CodeOK          = 0
	CodeNoInterface = 3
	CodeTCPFailure  = 4
	CodeHTTPRefused = 5
	CodeHTTPFailure = 6
	CodeTCPTimeout  = 64
	CodeHTTPTimeout = 65
	CodeUnknown     = 127
)

// The flag defaults of cell.md §3.8.
const (
	DefaultPort           = 8080
	DefaultTimeout        = time.Second
	DefaultStartupTimeout = 60 * time.Second
)

// Error is a failed check: the exit code and the message for stderr.
type Error struct {
	Code    int
	Message string
}

func (e *Error) Error() string { return e.Message }

// Code is the exit code for err: 0 for nil, an *Error's own code, and
// CodeUnknown for anything else.
func Code(err error) int {
	if err == nil {
		return CodeOK
	}
	var e *Error
	if errors.As(err, &e) {
		return e.Code
	}
	return CodeUnknown
}

// InterfaceAddrs lists the addresses of the machine's interfaces that are up,
// in interface order. A down interface keeps its addresses but cannot be
// dialled, so it is never the one to check.
func InterfaceAddrs() ([]net.Addr, error) {
	ifaces, err := net.Interfaces()
	if err != nil {
		return nil, err
	}
	var out []net.Addr
	for _, ifc := range ifaces {
		if ifc.Flags&net.FlagUp == 0 {
			continue
		}
		addrs, err := ifc.Addrs()
		if err != nil {
			return nil, fmt.Errorf("listing the addresses of %s: %w", ifc.Name, err)
		}
		out = append(out, addrs...)
	}
	return out, nil
}

// FirstIPv4 returns the first non-loopback IPv4 address among addrs.
func FirstIPv4(addrs []net.Addr) (net.IP, bool) {
	for _, a := range addrs {
		var ip net.IP
		switch a := a.(type) {
		case *net.IPNet:
			ip = a.IP
		case *net.IPAddr:
			ip = a.IP
		}
		if ip4 := ip.To4(); ip4 != nil && !ip4.IsLoopback() {
			return ip4, true
		}
	}
	return nil, false
}

// Discover returns a lookup of the address to check: the first non-loopback
// IPv4 address among what list returns, or an Error with CodeNoInterface.
func Discover(list func() ([]net.Addr, error)) func() (net.IP, error) {
	return func() (net.IP, error) {
		addrs, err := list()
		if err != nil {
			return nil, &Error{Code: CodeNoInterface, Message: fmt.Sprintf("failed to find a suitable interface: %s", err)}
		}
		ip, ok := FirstIPv4(addrs)
		if !ok {
			return nil, &Error{Code: CodeNoInterface, Message: "failed to find a suitable interface: no non-loopback IPv4 address is up"}
		}
		return ip, nil
	}
}

// Checker probes one port of the machine's address.
type Checker struct {
	// Network is what Dial is given ("tcp").
	Network string
	// URI, when set, makes the check an HTTP GET of that path; else the
	// check is a TCP connect.
	URI string
	// Port is the port to probe on the discovered address.
	Port int
	// Timeout bounds one check: the connect, or the whole HTTP exchange.
	Timeout time.Duration
	// IP finds the address to probe; nil means Discover(InterfaceAddrs).
	IP func() (net.IP, error)
}

// Check runs one probe and returns nil or an *Error.
func (c Checker) Check(ctx context.Context) error {
	find := c.IP
	if find == nil {
		find = Discover(InterfaceAddrs)
	}
	ip, err := find()
	if err != nil {
		if Code(err) == CodeUnknown {
			err = &Error{Code: CodeNoInterface, Message: fmt.Sprintf("failed to find a suitable interface: %s", err)}
		}
		return err
	}
	addr := net.JoinHostPort(ip.String(), strconv.Itoa(c.Port))
	if c.URI == "" {
		return c.checkTCP(ctx, addr)
	}
	return c.checkHTTP(ctx, addr)
}

func (c Checker) checkTCP(ctx context.Context, addr string) error {
	d := net.Dialer{Timeout: c.Timeout}
	conn, err := d.DialContext(ctx, c.Network, addr)
	if err == nil {
		conn.Close()
		return nil
	}
	code := CodeTCPFailure
	if isTimeout(err) {
		code = CodeTCPTimeout
	}
	return &Error{Code: code, Message: fmt.Sprintf("failed to make TCP connection to %s: %s", addr, err)}
}

func (c Checker) checkHTTP(ctx context.Context, addr string) error {
	uri := c.URI
	if !strings.HasPrefix(uri, "/") {
		uri = "/" + uri
	}
	target := "http://" + addr + uri
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, target, nil)
	if err != nil {
		return &Error{Code: CodeUnknown, Message: fmt.Sprintf("failed to build HTTP request for %q: %s", target, err)}
	}
	req.Header.Set("User-Agent", "diego-healthcheck")
	// Apps that redirect plain HTTP to HTTPS must answer the check directly.
	req.Header.Set("X-Forwarded-Proto", "https")

	network := c.Network
	dialer := &net.Dialer{}
	client := &http.Client{
		Timeout: c.Timeout,
		Transport: &http.Transport{
			// Never through an http_proxy from the app's environment.
			Proxy: nil,
			DialContext: func(ctx context.Context, _, addr string) (net.Conn, error) {
				return dialer.DialContext(ctx, network, addr)
			},
			DisableKeepAlives: true,
		},
		// Only a 200 from the app itself passes: a redirect is an answer,
		// and following it could leave the container.
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
	defer client.CloseIdleConnections()

	start := time.Now()
	resp, err := client.Do(req)
	elapsed := time.Since(start)
	prefix := "failed to make HTTP request to " + target
	switch {
	case err == nil:
		resp.Body.Close()
		if resp.StatusCode == http.StatusOK {
			return nil
		}
		return &Error{Code: CodeHTTPFailure,
			Message: fmt.Sprintf("%s: received status code %d in %dms", prefix, resp.StatusCode, elapsed.Milliseconds())}
	case errors.Is(err, syscall.ECONNREFUSED):
		return &Error{Code: CodeHTTPRefused, Message: prefix + ": connection refused"}
	case isTimeout(err):
		return &Error{Code: CodeHTTPTimeout, Message: fmt.Sprintf("%s: timed out after %s", prefix, c.Timeout)}
	default:
		// The *url.Error around it would repeat the method and URL.
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err
		}
		return &Error{Code: CodeHTTPFailure, Message: fmt.Sprintf("%s: %s", prefix, err)}
	}
}

func isTimeout(err error) bool {
	var ne net.Error
	return errors.Is(err, context.DeadlineExceeded) || (errors.As(err, &ne) && ne.Timeout())
}
