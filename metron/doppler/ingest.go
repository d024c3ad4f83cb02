package doppler

import (
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"sync"
	"sync/atomic"

	"diego/metron"
)

// IngestStats are the counts of the UDP listener.
type IngestStats struct {
	Received, Unsigned, BadSignature, UnmarshalErrors, Kept uint64
}

// Ingest is the doppler's dropsonde UDP listener (an ifrit runner): it
// verifies each datagram's signature, decodes the envelope, and adds it to
// the store. Unsigned, badly signed and undecodable datagrams are counted and
// dropped.
type Ingest struct {
	listenAddr string
	secret     []byte
	store      *Store
	logger     *slog.Logger

	received, unsigned, badSignature, unmarshalErrors, kept atomic.Uint64

	mu   sync.Mutex
	addr net.Addr
}

// NewIngest listens on listenAddr when run.
func NewIngest(listenAddr, sharedSecret string, store *Store, logger *slog.Logger) *Ingest {
	return &Ingest{listenAddr: listenAddr, secret: []byte(sharedSecret), store: store, logger: logger.With("session", "doppler-ingest")}
}

// Addr is the bound address once ready.
func (i *Ingest) Addr() net.Addr {
	i.mu.Lock()
	defer i.mu.Unlock()
	return i.addr
}

// Stats returns the counts so far.
func (i *Ingest) Stats() IngestStats {
	return IngestStats{
		Received: i.received.Load(), Unsigned: i.unsigned.Load(), BadSignature: i.badSignature.Load(),
		UnmarshalErrors: i.unmarshalErrors.Load(), Kept: i.kept.Load(),
	}
}

// Run reads datagrams until signalled.
func (i *Ingest) Run(signals <-chan os.Signal, ready chan<- struct{}) error {
	conn, err := net.ListenPacket("udp", i.listenAddr)
	if err != nil {
		return fmt.Errorf("doppler: listening on %s: %w", i.listenAddr, err)
	}
	if u, ok := conn.(*net.UDPConn); ok {
		_ = u.SetReadBuffer(8 << 20)
	}
	i.mu.Lock()
	i.addr = conn.LocalAddr()
	i.mu.Unlock()
	done := make(chan struct{})
	go func() {
		defer close(done)
		buf := make([]byte, 65536)
		for {
			n, _, err := conn.ReadFrom(buf)
			if err != nil {
				if !errors.Is(err, net.ErrClosed) {
					i.logger.Error("reading-failed", "error", err)
				}
				return
			}
			i.Handle(buf[:n])
		}
	}()
	close(ready)
	<-signals
	conn.Close()
	<-done
	return nil
}

// Handle verifies, decodes and keeps one datagram.
func (i *Ingest) Handle(datagram []byte) {
	i.received.Add(1)
	msg, err := metron.Verify(i.secret, datagram)
	switch {
	case errors.Is(err, metron.ErrBadSignature):
		i.badSignature.Add(1)
		return
	case errors.Is(err, metron.ErrUnsigned):
		i.unsigned.Add(1)
		return
	case err != nil: // oversized: nothing to decode
		i.unmarshalErrors.Add(1)
		return
	}
	env, err := metron.DecodeEnvelope(msg)
	if err != nil {
		i.unmarshalErrors.Add(1)
		return
	}
	i.kept.Add(1)
	// msg aliases the read buffer; the store keeps its own copy.
	i.store.Add(env, append([]byte(nil), msg...))
}
