package main_test

import (
	"fmt"
	"strings"
	"sync"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	"google.golang.org/protobuf/proto"

	bbsclient "diego/bbs/client"
	"diego/models"
)

// Concurrent legal transitions through the real binary, over HTTP: the
// loser of a compare-and-swap re-reads and is judged against the record
// that won (decision 40), so no caller ever sees ResourceConflict, and the
// final record is one that the two calls, applied one after the other in
// some order, would leave.
var _ = Describe("Racing writers through the bbs binary", func() {
	var (
		client     *bbsclient.Client
		mu         sync.Mutex
		repCancels map[string]int // task guid → cancels the rep was told of
	)

	BeforeEach(func() {
		Expect(etcd.Reset()).To(Succeed())
		lrpAuctions, taskAuctions := fakeAuctioneer()
		repPaths := fakeRep("cell-1", "cell-2")
		repCancels = map[string]int{}
		// The fakes hand over every request; drain them so that hundreds
		// of requests never block the BBS.
		done := make(chan struct{})
		DeferCleanup(func() { close(done) })
		go func() {
			for {
				select {
				case <-done:
					return
				case <-lrpAuctions:
				case <-taskAuctions:
				case p := <-repPaths:
					if guid, ok := strings.CutSuffix(strings.TrimPrefix(p, "/v1/tasks/"), "/cancel"); ok {
						mu.Lock()
						repCancels[guid]++
						mu.Unlock()
					}
				}
			}
		}()
		client = newClient(startBBS(false))
	})

	// race runs a and b at once and returns their errors.
	race := func(a, b func() error) (errA, errB error) {
		gate := make(chan struct{})
		var wg sync.WaitGroup
		wg.Go(func() { <-gate; errA = a() })
		wg.Go(func() { <-gate; errB = b() })
		close(gate)
		wg.Wait()
		return errA, errB
	}
	notConflict := func(err error, what string) {
		GinkgoHelper()
		if err != nil {
			Expect(errType(err)).NotTo(Equal(models.Error_ResourceConflict), "%s: %v", what, err)
		}
	}

	It("races CancelTask against StartTask 200 times: no conflict, and always a cancelled task", func() {
		const rounds = 200
		startWon, cancelWon := 0, 0
		for i := range rounds {
			guid := fmt.Sprintf("race-%03d", i)
			Expect(client.DesireTask(ctx, guid, "d", taskDef())).To(Succeed())
			var shouldStart bool
			cancelErr, startErr := race(
				func() error { return client.CancelTask(ctx, guid) },
				func() (err error) { shouldStart, err = client.StartTask(ctx, guid, "cell-1"); return err },
			)
			notConflict(cancelErr, "cancel "+guid)
			notConflict(startErr, "start "+guid)
			// Cancel is legal from PENDING and from RUNNING: it always lands.
			Expect(cancelErr).NotTo(HaveOccurred(), guid)

			task, err := client.TaskByGuid(ctx, guid)
			Expect(err).NotTo(HaveOccurred())
			Expect(task.State).To(Equal(models.Task_Completed), guid)
			Expect(task.Failed).To(BeTrue(), guid)
			Expect(task.FailureReason).To(Equal("task was cancelled"), guid)
			Expect(task.CellId).To(BeEmpty(), guid)

			// The fake rep hands its requests to the drain goroutine above,
			// which may count one after the BBS has answered.
			told := func() int {
				mu.Lock()
				defer mu.Unlock()
				return repCancels[guid]
			}
			if startErr == nil {
				// Start, then cancel: the cell that started it is told.
				startWon++
				Expect(shouldStart).To(BeTrue(), guid)
				Eventually(told).Should(Equal(1), "%s: the rep of cell-1 must hear of the cancel", guid)
			} else {
				// Cancel, then start: the start is refused as the spec says.
				cancelWon++
				Expect(startErr).To(MatchError(ContainSubstring("Cannot transition from Completed to Running")), guid)
				Expect(errType(startErr)).To(Equal(models.Error_InvalidStateTransition), guid)
				Expect(shouldStart).To(BeFalse(), guid)
				Expect(told()).To(BeZero(), guid)
			}
		}
		fmt.Fprintf(GinkgoWriter, "cancel vs start x%d: start first %d, cancel first %d, conflicts 0\n", rounds, startWon, cancelWon)
		Expect(startWon + cancelWon).To(Equal(rounds))
	})

	It("races a claim against a crash of the same running instance 100 times: no conflict, both land", func() {
		const rounds = 100
		Expect(client.DesireLRP(ctx, desiredLRP("pg-race", rounds))).To(Succeed())
		claimFirst, crashFirst := 0, 0
		for i := range int32(rounds) {
			k, ik := key("pg-race", i), instanceKey("cell-1")
			Expect(client.StartActualLRP(ctx, &models.StartActualLRPRequest{
				ActualLrpKey: k, ActualLrpInstanceKey: ik, ActualLrpNetInfo: netInfo(),
			})).To(Succeed())
			claimErr, crashErr := race(
				func() error { return client.ClaimActualLRP(ctx, k, ik) },
				func() error { return client.CrashActualLRP(ctx, k, ik, "exit 1") },
			)
			notConflict(claimErr, "claim")
			notConflict(crashErr, "crash")
			// RUNNING → CLAIMED (same key) → crash, or RUNNING → crash →
			// UNCLAIMED → claim: both orders are legal, so both land.
			Expect(claimErr).NotTo(HaveOccurred(), "index %d", i)
			Expect(crashErr).NotTo(HaveOccurred(), "index %d", i)

			lrps, err := client.ActualLRPs(ctx, bbsclient.ActualLRPFilter{ProcessGuid: "pg-race", Index: &i})
			Expect(err).NotTo(HaveOccurred())
			Expect(lrps).To(HaveLen(1))
			lrp := lrps[0]
			Expect(lrp.CrashCount).To(Equal(int32(1)), "index %d", i)
			Expect(lrp.CrashReason).To(Equal("exit 1"))
			switch lrp.State {
			case models.ActualLRPStateUnclaimed: // claim, then crash
				claimFirst++
				Expect(lrp.ActualLrpInstanceKey.GetInstanceGuid()).To(BeEmpty())
			case models.ActualLRPStateClaimed: // crash, then claim
				crashFirst++
				Expect(lrp.ActualLrpInstanceKey.GetCellId()).To(Equal("cell-1"))
			default:
				Fail(fmt.Sprintf("index %d left %s", i, lrp.State))
			}
		}
		fmt.Fprintf(GinkgoWriter, "claim vs crash x%d: claim first %d, crash first %d, conflicts 0\n", rounds, claimFirst, crashFirst)
	})

	It("races UpdateDesiredLRP against RemoveDesiredLRP 100 times: no conflict, and the LRP is gone", func() {
		const rounds = 100
		Expect(client.UpsertDomain(ctx, "apps", 0)).To(Succeed())
		updateFirst, removeFirst := 0, 0
		for i := range rounds {
			guid := fmt.Sprintf("pg-%03d", i)
			Expect(client.DesireLRP(ctx, desiredLRP(guid, 1))).To(Succeed())
			updateErr, removeErr := race(
				func() error {
					return client.UpdateDesiredLRP(ctx, guid, &models.DesiredLRPUpdate{Instances: proto.Int32(2), Annotation: proto.String("v2")})
				},
				func() error { return client.RemoveDesiredLRP(ctx, guid) },
			)
			notConflict(updateErr, "update "+guid)
			notConflict(removeErr, "remove "+guid)
			// Remove is legal whatever the update did: it always lands.
			Expect(removeErr).NotTo(HaveOccurred(), guid)
			if updateErr == nil {
				updateFirst++
			} else {
				removeFirst++
				Expect(errType(updateErr)).To(Equal(models.Error_ResourceNotFound), guid)
			}
			_, err := client.DesiredLRPByProcessGuid(ctx, guid)
			Expect(errType(err)).To(Equal(models.Error_ResourceNotFound), guid)
		}
		// An update that won may still have been creating its new index
		// while the removal retired the old ones; the next convergence
		// pass retires anything left of the removed LRPs.
		Expect(client.ConvergeLRPs(ctx)).To(Succeed())
		Eventually(func() ([]*models.ActualLRP, error) {
			return client.ActualLRPs(ctx, bbsclient.ActualLRPFilter{Domain: "apps"})
		}, 10*time.Second).Should(BeEmpty())
		fmt.Fprintf(GinkgoWriter, "update vs remove x%d: update first %d, remove first %d, conflicts 0\n", rounds, updateFirst, removeFirst)
	})
})
