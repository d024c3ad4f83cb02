package main_test

import (
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	"github.com/onsi/gomega/gexec"
	"github.com/tedsuo/ifrit/ginkgomon_v2"

	bbsclient "diego/bbs/client"
	bbsconfig "diego/bbs/config"
	"diego/models"
	"diego/test/etcdrunner"
)

var _ = Describe("Failures", func() {
	BeforeEach(func() {
		Expect(etcd.Reset()).To(Succeed())
	})

	It("keeps serving, losing no acknowledged write and no event, when an etcd member dies mid-load", func() {
		cluster := etcdrunner.NewCluster(3)
		proc := ginkgomon_v2.Invoke(cluster)
		DeferCleanup(func() { ginkgomon_v2.Interrupt(proc, 20*time.Second); _ = cluster.Cleanup() })

		bbs := startBBS(false, func(c *bbsconfig.Config) { c.ETCD.Endpoints = cluster.ClientURLs() })
		client := newClient(bbs)
		source, err := client.SubscribeToTaskEvents(ctx)
		Expect(err).NotTo(HaveOccurred())
		defer source.Close()
		created := make(chan string, 100000)
		go func() {
			for {
				e, err := source.Next()
				if err != nil {
					close(created)
					return
				}
				if c, ok := e.(*models.TaskCreatedEvent); ok {
					created <- c.Task.TaskGuid
				}
			}
		}()

		var (
			acked   sync.Map
			count   atomic.Int32
			stop    = make(chan struct{})
			writers sync.WaitGroup
		)
		for w := 0; w < 8; w++ {
			writers.Add(1)
			go func(w int) {
				defer GinkgoRecover()
				defer writers.Done()
				for i := 0; ; i++ {
					select {
					case <-stop:
						return
					default:
					}
					guid := fmt.Sprintf("task-%d-%d", w, i)
					if client.DesireTask(ctx, guid, "d", taskDef()) == nil {
						acked.Store(guid, true)
						count.Add(1)
					}
				}
			}(w)
		}

		Eventually(count.Load).Should(BeNumerically(">", 50))
		Expect(cluster.StopMember(cluster.Leader())).To(Succeed(), "the leader dies: a new one is elected")
		before := count.Load()
		Eventually(count.Load, 20*time.Second).Should(BeNumerically(">", before+50), "writes go on with two members")
		close(stop)
		writers.Wait()

		tasks, err := client.Tasks(ctx, bbsclient.TaskFilter{})
		Expect(err).NotTo(HaveOccurred())
		stored := map[string]bool{}
		for _, t := range tasks {
			stored[t.TaskGuid] = true
		}
		missing := 0
		acked.Range(func(k, _ any) bool {
			if !stored[k.(string)] {
				missing++
			}
			return true
		})
		Expect(missing).To(BeZero(), "every acknowledged write is stored")

		seen := map[string]int{}
		Eventually(func() int {
			for {
				select {
				case guid, ok := <-created:
					if !ok {
						return len(seen)
					}
					seen[guid]++
					continue
				default:
				}
				return len(seen)
			}
		}, 10*time.Second).Should(Equal(len(tasks)), "one created event per stored task")
		for guid, n := range seen {
			Expect(n).To(Equal(1), "duplicate event for %s", guid)
			Expect(stored).To(HaveKey(guid), "event for a task that was not stored")
		}
	})

	It("loses nothing when the BBS is killed, and the event stream resumes on its replacement", func() {
		first := startBBS(false)
		client := newClient(first)
		for i := 0; i < 20; i++ {
			Expect(client.DesireTask(ctx, fmt.Sprintf("task-%d", i), "d", taskDef())).To(Succeed())
		}
		first.session.Kill()
		Eventually(first.session).Should(gexec.Exit())

		second := startBBS(false)
		client = newClient(second)
		tasks, err := client.Tasks(ctx, bbsclient.TaskFilter{})
		Expect(err).NotTo(HaveOccurred())
		Expect(tasks).To(HaveLen(20))

		source, err := client.SubscribeToTaskEvents(ctx)
		Expect(err).NotTo(HaveOccurred())
		defer source.Close()
		_, err = client.StartTask(ctx, "task-3", "cell-1")
		Expect(err).NotTo(HaveOccurred())
		e, err := source.Next()
		Expect(err).NotTo(HaveOccurred())
		Expect(e.(*models.TaskChangedEvent).After.State).To(Equal(models.Task_Running))
	})
})
