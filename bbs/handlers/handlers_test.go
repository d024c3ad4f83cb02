package handlers_test

import (
	"context"
	"errors"
	"log/slog"
	"net/http"
	"net/http/httptest"

	"diego/auctioneer"
	"diego/bbs"
	"diego/bbs/handlers"
	"diego/deploy/logging"
	"diego/models"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	"google.golang.org/protobuf/proto"
)

var _ = Describe("Server", func() {
	var f *fixture

	BeforeEach(func() { f = newFixture() })

	It("answers 503 until it is marked ready", func() {
		s, err := handlers.New(handlers.Deps{Logger: logging.Discard()})
		Expect(err).NotTo(HaveOccurred())
		w := httptest.NewRecorder()
		s.ServeHTTP(w, httptest.NewRequest(http.MethodPost, "/v1/ping", nil))
		Expect(w.Code).To(Equal(http.StatusServiceUnavailable))
	})

	Describe("tasks", func() {
		def := &models.TaskDefinition{RootFs: "preloaded:x", Action: models.WrapAction(&models.RunAction{Path: "/x", User: "u"})}

		It("asks for an auction after desiring, and ignores an auctioneer failure", func() {
			f.tasks.DesireTaskReturns(&models.Task{TaskGuid: "t", Domain: "d", TaskDefinition: def}, nil)
			f.auctioneer.RequestTaskAuctionsReturns(errors.New("no auctioneer"))
			var resp models.TaskLifecycleResponse
			f.call(bbs.DesireTaskRoute, &models.DesireTaskRequest{TaskGuid: "t", Domain: "d", TaskDefinition: def}, &resp)
			Expect(resp.Error).To(BeNil())
			Expect(f.auctioneer.RequestTaskAuctionsCallCount()).To(Equal(1))
			_, reqs := f.auctioneer.RequestTaskAuctionsArgsForCall(0)
			Expect(reqs[0].TaskGuid).To(Equal("t"))
		})

		It("sends the starts of desires that arrive during an auction request together in the next one", func() {
			f.tasks.DesireTaskStub = func(_ context.Context, _ *slog.Logger, d *models.TaskDefinition, guid, domain string) (*models.Task, error) {
				return &models.Task{TaskGuid: guid, Domain: domain, TaskDefinition: d}, nil
			}
			release := make(chan struct{})
			f.auctioneer.RequestTaskAuctionsCalls(func(_ context.Context, reqs []*auctioneer.TaskStartRequest) error {
				if reqs[0].TaskGuid == "first" {
					<-release // the first request is in flight while the others arrive
					return nil
				}
				return errors.New("auctioneer gone")
			})
			desire := func(guid string) <-chan *models.TaskLifecycleResponse {
				out := make(chan *models.TaskLifecycleResponse, 1)
				go func() {
					defer GinkgoRecover()
					var resp models.TaskLifecycleResponse
					f.call(bbs.DesireTaskRoute, &models.DesireTaskRequest{TaskGuid: guid, Domain: "d", TaskDefinition: def}, &resp)
					out <- &resp
				}()
				return out
			}
			first := desire("first")
			Eventually(f.auctioneer.RequestTaskAuctionsCallCount).Should(Equal(1))
			second, third := desire("second"), desire("third")
			Eventually(f.tasks.DesireTaskCallCount).Should(Equal(3))
			Consistently(second).ShouldNot(Receive(), "waits for the request in flight")
			close(release)
			for _, answer := range []<-chan *models.TaskLifecycleResponse{first, second, third} {
				var resp *models.TaskLifecycleResponse
				Eventually(answer).Should(Receive(&resp))
				Expect(resp.Error).To(BeNil(), "the auction request is best effort")
			}
			Expect(f.auctioneer.RequestTaskAuctionsCallCount()).To(Equal(2))
			_, reqs := f.auctioneer.RequestTaskAuctionsArgsForCall(1)
			guids := []string{reqs[0].TaskGuid, reqs[1].TaskGuid}
			Expect(guids).To(ConsistOf("second", "third"))
		})

		It("keeps sending auction requests after one panicked", func() {
			f.tasks.DesireTaskStub = func(_ context.Context, _ *slog.Logger, d *models.TaskDefinition, guid, domain string) (*models.Task, error) {
				return &models.Task{TaskGuid: guid, Domain: domain, TaskDefinition: d}, nil
			}
			f.auctioneer.RequestTaskAuctionsCalls(func(_ context.Context, reqs []*auctioneer.TaskStartRequest) error {
				if reqs[0].TaskGuid == "panics" {
					panic("auctioneer client bug")
				}
				return nil
			})
			func() {
				defer func() { Expect(recover()).To(Equal("auctioneer client bug")) }() // net/http's recovery
				var resp models.TaskLifecycleResponse
				f.call(bbs.DesireTaskRoute, &models.DesireTaskRequest{TaskGuid: "panics", Domain: "d", TaskDefinition: def}, &resp)
			}()
			done := make(chan struct{})
			go func() {
				defer GinkgoRecover()
				defer close(done)
				var resp models.TaskLifecycleResponse
				f.call(bbs.DesireTaskRoute, &models.DesireTaskRequest{TaskGuid: "next", Domain: "d", TaskDefinition: def}, &resp)
				Expect(resp.Error).To(BeNil())
			}()
			Eventually(done).Should(BeClosed(), "a later desire is not stuck behind the panicked request")
			Expect(f.auctioneer.RequestTaskAuctionsCallCount()).To(Equal(2))
		})

		It("sends a lone desire's start at once, in a request of its own, each time", func() {
			f.tasks.DesireTaskStub = func(_ context.Context, _ *slog.Logger, d *models.TaskDefinition, guid, domain string) (*models.Task, error) {
				return &models.Task{TaskGuid: guid, Domain: domain, TaskDefinition: d}, nil
			}
			for i, guid := range []string{"a", "b"} {
				var resp models.TaskLifecycleResponse
				f.call(bbs.DesireTaskRoute, &models.DesireTaskRequest{TaskGuid: guid, Domain: "d", TaskDefinition: def}, &resp)
				Expect(f.auctioneer.RequestTaskAuctionsCallCount()).To(Equal(i + 1))
				_, reqs := f.auctioneer.RequestTaskAuctionsArgsForCall(i)
				Expect(reqs).To(HaveLen(1))
				Expect(reqs[0].TaskGuid).To(Equal(guid))
			}
		})

		It("does not touch storage when the request is invalid", func() {
			var resp models.TaskLifecycleResponse
			f.call(bbs.DesireTaskRoute, &models.DesireTaskRequest{}, &resp)
			Expect(resp.Error.GetType()).To(Equal(models.Error_InvalidRequest))
			Expect(f.tasks.DesireTaskCallCount()).To(BeZero())
		})

		It("submits the callback when a rejection fails the task", func() {
			failed := &models.Task{TaskGuid: "t", State: models.Task_Completed}
			f.tasks.RejectTaskReturns(nil, failed, nil)
			var resp models.TaskLifecycleResponse
			f.call(bbs.RejectTaskRoute, &models.RejectTaskRequest{TaskGuid: "t", RejectionReason: "full"}, &resp)
			Expect(resp.Error).To(BeNil())
			_, _, _, _, max := f.tasks.RejectTaskArgsForCall(0)
			Expect(max).To(Equal(int32(3)))
			Expect(f.callbacks.SubmitArgsForCall(0)).To(BeIdenticalTo(failed))
		})

		It("passes storage errors through as they are", func() {
			f.tasks.StartTaskReturns(nil, nil, false, models.NewTaskTransitionError(models.Task_Running, models.Task_Running))
			var resp models.StartTaskResponse
			f.call(bbs.StartTaskRoute, &models.StartTaskRequest{TaskGuid: "t", CellId: "c"}, &resp)
			Expect(resp.Error.GetMessage()).To(Equal("Cannot transition from Running to Running"))
		})
	})

	Describe("retiring an instance", func() {
		k := &models.ActualLRPKey{ProcessGuid: "pg", Index: 1, Domain: "d"}
		running := &models.ActualLRP{ActualLrpKey: k, State: "RUNNING",
			ActualLrpInstanceKey: &models.ActualLRPInstanceKey{InstanceGuid: "ig", CellId: "c1"}}

		retire := func() *models.Error {
			var resp models.ActualLRPLifecycleResponse
			f.call(bbs.RetireActualLRPRoute, &models.RetireActualLRPRequest{ActualLrpKey: k}, &resp)
			return resp.Error
		}

		It("removes an unplaced instance without asking any rep", func() {
			f.actual.RetireActualLRPReturns(nil, true, nil)
			Expect(retire()).To(BeNil())
			Expect(f.rep.StopLRPInstanceCallCount()).To(BeZero())
		})

		It("asks the rep of a running instance to stop it", func() {
			f.actual.RetireActualLRPReturns(running, false, nil)
			f.cells.CellByIDReturns(&models.CellPresence{CellId: "c1", RepAddress: "http://rep", RepUrl: "https://rep:1801"}, nil)
			Expect(retire()).To(BeNil())
			address, url := f.reps.RepArgsForCall(0)
			Expect([]string{address, url}).To(Equal([]string{"http://rep", "https://rep:1801"}))
			_, pg, ig := f.rep.StopLRPInstanceArgsForCall(0)
			Expect([]string{pg, ig}).To(Equal([]string{"pg", "ig"}))
		})

		It("fails at once, without retrying, when the rep cannot be reached under the TLS settings", func() {
			f.actual.RetireActualLRPReturns(running, false, nil)
			f.cells.CellByIDReturns(&models.CellPresence{CellId: "c1", RepAddress: "http://rep"}, nil)
			f.reps.RepReturns(nil, errors.New("TLS to reps is required"))
			err := retire()
			Expect(err).NotTo(BeNil())
			Expect(err.Message).To(ContainSubstring("TLS to reps is required"))
			Expect(f.actual.RetireActualLRPCallCount()).To(Equal(1))
			Expect(f.rep.StopLRPInstanceCallCount()).To(BeZero())
		})

		It("deletes the record itself when the instance's cell is gone", func() {
			f.actual.RetireActualLRPReturns(running, false, nil)
			f.cells.CellByIDReturns(nil, models.ErrResourceNotFound)
			Expect(retire()).To(BeNil())
			_, _, pg, index, ik := f.actual.RemoveActualLRPArgsForCall(0)
			Expect(pg).To(Equal("pg"))
			Expect(index).To(Equal(int32(1)))
			Expect(ik.GetInstanceGuid()).To(Equal("ig"))
		})

		It("tries five times to reach the rep, then answers UnknownError", func() {
			f.actual.RetireActualLRPReturns(running, false, nil)
			f.cells.CellByIDReturns(&models.CellPresence{CellId: "c1", RepAddress: "http://rep"}, nil)
			f.rep.StopLRPInstanceReturns(errors.New("connection refused"))
			err := retire()
			Expect(err.GetType()).To(Equal(models.Error_UnknownError))
			Expect(err.GetMessage()).To(ContainSubstring("connection refused"))
			Expect(f.rep.StopLRPInstanceCallCount()).To(Equal(models.RetireActualLRPRetryAttempts))
		})
	})

	Describe("LRP side effects", func() {
		info := &models.DesiredLRPSchedulingInfo{
			DesiredLrpKey:      &models.DesiredLRPKey{ProcessGuid: "pg", Domain: "d"},
			DesiredLrpResource: &models.DesiredLRPResource{RootFs: "preloaded:x"},
		}

		It("auctions an instance that restarts at once after a crash, and not one that waits", func() {
			crashed := &models.ActualLRP{ActualLrpKey: &models.ActualLRPKey{ProcessGuid: "pg", Index: 2, Domain: "d"}}
			f.actual.CrashActualLRPReturns(nil, crashed, true, nil)
			f.desired.DesiredLRPSchedulingInfoByProcessGuidReturns(info, nil)
			req := &models.CrashActualLRPRequest{ActualLrpKey: crashed.ActualLrpKey,
				ActualLrpInstanceKey: &models.ActualLRPInstanceKey{InstanceGuid: "ig", CellId: "c"}, ErrorMessage: "oom"}
			var resp models.ActualLRPLifecycleResponse
			f.call(bbs.CrashActualLRPRoute, req, &resp)
			Expect(resp.Error).To(BeNil())
			_, reqs := f.auctioneer.RequestLRPAuctionsArgsForCall(0)
			Expect(reqs[0].Indices).To(Equal([]int{2}))

			f.actual.CrashActualLRPReturns(nil, crashed, false, nil)
			f.call(bbs.CrashActualLRPRoute, req, &resp)
			Expect(f.auctioneer.RequestLRPAuctionsCallCount()).To(Equal(1))
		})

		It("auctions an evacuating instance's crash that restarts at once, and never keeps its container", func() {
			key := &models.ActualLRPKey{ProcessGuid: "pg", Index: 1, Domain: "d"}
			f.actual.EvacuateCrashedActualLRPReturns(true, nil)
			f.desired.DesiredLRPSchedulingInfoByProcessGuidReturns(info, nil)
			req := &models.EvacuateCrashedActualLRPRequest{ActualLrpKey: key,
				ActualLrpInstanceKey: &models.ActualLRPInstanceKey{InstanceGuid: "ig", CellId: "c"}, ErrorMessage: "oom"}
			var resp models.EvacuationResponse
			f.call(bbs.EvacuateCrashedRoute, req, &resp)
			Expect(resp.Error).To(BeNil())
			Expect(resp.KeepContainer).To(BeFalse())
			Expect(f.auctioneer.RequestLRPAuctionsCallCount()).To(Equal(1))
			_, reqs := f.auctioneer.RequestLRPAuctionsArgsForCall(0)
			Expect(reqs[0].Indices).To(Equal([]int{1}))

			f.actual.EvacuateCrashedActualLRPReturns(false, nil)
			f.call(bbs.EvacuateCrashedRoute, req, &resp)
			Expect(f.auctioneer.RequestLRPAuctionsCallCount()).To(Equal(1))
		})

		It("retires only the indices beyond the new count when scaling down", func() {
			before := proto.Clone(info).(*models.DesiredLRPSchedulingInfo)
			before.Instances = 3
			after := proto.Clone(info).(*models.DesiredLRPSchedulingInfo)
			after.Instances = 1
			f.desired.UpdateDesiredLRPReturns(before, after, nil)
			var lrps []*models.ActualLRP
			for i := int32(0); i < 3; i++ {
				lrps = append(lrps, &models.ActualLRP{ActualLrpKey: &models.ActualLRPKey{ProcessGuid: "pg", Index: i, Domain: "d"}})
			}
			f.actual.ActualLRPsReturns(lrps, nil)
			f.actual.RetireActualLRPReturns(nil, true, nil)
			var resp models.DesiredLRPLifecycleResponse
			f.call(bbs.UpdateDesiredLRPRoute, &models.UpdateDesiredLRPRequest{ProcessGuid: "pg",
				Update: &models.DesiredLRPUpdate{Instances: proto.Int32(1)}}, &resp)
			Expect(resp.Error).To(BeNil())
			Expect(f.actual.RetireActualLRPCallCount()).To(Equal(2))
			var retired []int32
			for i := 0; i < 2; i++ {
				_, _, key := f.actual.RetireActualLRPArgsForCall(i)
				retired = append(retired, key.GetIndex())
			}
			Expect(retired).To(ConsistOf(int32(1), int32(2)))
		})
	})

	It("routes every table entry it serves, and nothing more", func() {
		for _, r := range bbs.Routes {
			req := httptest.NewRequest(r.Method, r.Path, nil).WithContext(cancelled())
			w := httptest.NewRecorder()
			f.server.ServeHTTP(w, req)
			Expect(w.Code).NotTo(Equal(http.StatusNotFound), r.Name)
		}
		for _, path := range []string{"/v1/tasks/nope", "/v1/desired_lrps/list.r9", "/v2/tasks/list.r2"} {
			w := httptest.NewRecorder()
			f.server.ServeHTTP(w, httptest.NewRequest(http.MethodPost, path, nil))
			Expect(w.Code).To(Equal(http.StatusNotFound), path)
		}
	})
})

func cancelled() context.Context {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	return ctx
}
