package etcdrunner

import (
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"
	"sync"

	"github.com/tedsuo/ifrit"
	clientv3 "go.etcd.io/etcd/client/v3"
)

// Cluster runs n etcd members together. Members must start concurrently,
// since none is ready before a quorum is up, so the cluster is one
// ifrit.Runner; StopMember and StartMember let a failure test take single
// members down and bring them back while the cluster runs.
type Cluster struct {
	members []*Runner

	mu        sync.Mutex
	processes []ifrit.Process // nil where a member is stopped
	failures  chan error      // ready members that exited unasked; made by Run
}

// NewCluster returns a stopped cluster of n members named etcd0..etcd<n-1>,
// each with its own ports and temp data dir.
func NewCluster(n int) *Cluster {
	if n < 1 {
		panic("etcdrunner: a cluster needs at least one member")
	}
	c := &Cluster{
		members:   make([]*Runner, n),
		processes: make([]ifrit.Process, n),
	}
	peers := make([]string, n)
	for i := range n {
		c.members[i] = New(Config{Name: "etcd" + strconv.Itoa(i)})
		peers[i] = c.members[i].name + "=" + c.members[i].PeerURL()
	}
	initial := strings.Join(peers, ",")
	// A token unique to this cluster keeps members of an earlier cluster on
	// reused ports from talking to this one.
	token := "etcdrunner-cluster-" + strconv.Itoa(int(c.members[0].peerPort))
	for _, m := range c.members {
		m.initialCluster = initial
		m.clusterToken = token
	}
	return c
}

// Members returns the members in order; use StopMember/StartMember rather
// than running them directly while the cluster runs.
func (c *Cluster) Members() []*Runner {
	return append([]*Runner(nil), c.members...)
}

// ClientURLs lists every member's client URL, stopped or not.
func (c *Cluster) ClientURLs() []string {
	urls := make([]string, len(c.members))
	for i, m := range c.members {
		urls[i] = m.ClientURL()
	}
	return urls
}

// Client returns a v3 client that balances over every member; the caller
// closes it.
func (c *Cluster) Client() (*clientv3.Client, error) {
	return newClient(c.ClientURLs(), nil)
}

// Reset deletes every key and revokes every lease through the running
// members.
func (c *Cluster) Reset() error {
	return reset(c.runningURLs(), nil)
}

// Run starts every member, is ready once all are, and on a signal stops
// the running members and returns nil. A ready member failing on its own
// ends the cluster with its error.
func (c *Cluster) Run(signals <-chan os.Signal, ready chan<- struct{}) error {
	c.mu.Lock()
	c.failures = make(chan error, len(c.members))
	c.mu.Unlock()
	started := make([]ifrit.Process, len(c.members))
	for i := range c.members {
		started[i] = c.start(i)
	}
	defer c.stopAll()

	for _, p := range started {
		select {
		case <-p.Ready():
		case err := <-p.Wait():
			return fmt.Errorf("starting etcd cluster: %w", errOrStopped(err))
		case err := <-c.failures:
			return fmt.Errorf("starting etcd cluster: %w", err)
		case <-signals:
			return nil
		}
	}
	close(ready)

	select {
	case <-signals:
		return nil
	case err := <-c.failures:
		return fmt.Errorf("etcd cluster member failed: %w", err)
	}
}

// start runs member i in the background and reports to c.failures if it
// exits, after being ready, without being asked to.
func (c *Cluster) start(i int) ifrit.Process {
	p := ifrit.Background(c.members[i])
	c.mu.Lock()
	c.processes[i] = p
	failures := c.failures
	c.mu.Unlock()
	go func() {
		err := <-p.Wait()
		c.mu.Lock()
		requested := c.processes[i] != p
		c.mu.Unlock()
		select {
		case <-p.Ready():
		default:
			return // whoever waits for it to start sees the error
		}
		if requested {
			return
		}
		select {
		case failures <- fmt.Errorf("%s: %w", c.members[i].name, errOrStopped(err)):
		default: // Run is already on its way out
		}
	}()
	return p
}

func (c *Cluster) process(i int) ifrit.Process {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.processes[i]
}

// StopMember interrupts member i and waits for it to exit; the other
// members keep serving if a quorum remains.
func (c *Cluster) StopMember(i int) error {
	c.mu.Lock()
	p := c.processes[i]
	c.processes[i] = nil
	c.mu.Unlock()
	if p == nil {
		return fmt.Errorf("%s is not running", c.members[i].name)
	}
	p.Signal(os.Interrupt)
	return <-p.Wait()
}

// StartMember runs a stopped member i again on its old ports and data and
// waits until it has rejoined.
func (c *Cluster) StartMember(i int) error {
	if c.process(i) != nil {
		return fmt.Errorf("%s is already running", c.members[i].name)
	}
	p := c.start(i)
	select {
	case <-p.Ready():
		return nil
	case err := <-p.Wait():
		c.mu.Lock()
		if c.processes[i] == p {
			c.processes[i] = nil
		}
		c.mu.Unlock()
		return fmt.Errorf("restarting %s: %w", c.members[i].name, errOrStopped(err))
	}
}

// Leader returns the index of the member that leads, or -1 if no running
// member does right now (say, during an election).
func (c *Cluster) Leader() int {
	for i, m := range c.members {
		if m.IsLeader() {
			return i
		}
	}
	return -1
}

// stopAll stops the followers together and then the leader. A leader
// stopped alongside its followers would spend etcd's request timeout (7s)
// trying to hand leadership to one of them; stopped last, it sees no live
// peer and stops at once.
func (c *Cluster) stopAll() {
	c.mu.Lock()
	running := c.processes
	c.processes = make([]ifrit.Process, len(c.members))
	c.mu.Unlock()

	leader := c.Leader()
	stop := func(leaders bool) {
		for i, p := range running {
			if p != nil && (i == leader) == leaders {
				p.Signal(os.Interrupt)
			}
		}
		for i, p := range running {
			if p != nil && (i == leader) == leaders {
				<-p.Wait()
			}
		}
	}
	stop(false)
	stop(true)
}

func (c *Cluster) runningURLs() []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	var urls []string
	for i, p := range c.processes {
		if p != nil {
			urls = append(urls, c.members[i].ClientURL())
		}
	}
	return urls
}

// Cleanup removes the members' temp data dirs; call it after the cluster
// has stopped.
func (c *Cluster) Cleanup() error {
	var errs []error
	for _, m := range c.members {
		errs = append(errs, m.Cleanup())
	}
	return errors.Join(errs...)
}
