package main_test

import (
	"bytes"
	"io"
	"net/http"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	"google.golang.org/protobuf/proto"

	"diego/bbs"
	"diego/deploy/tlsconfig"
	"diego/models"
)

// call is one request to one route and the outcome it must have: no error,
// or an error of the given type.
type call struct {
	route string
	req   proto.Message
	resp  proto.Message
	want  models.Error_Type // -1: success
	check func(proto.Message)
}

const ok models.Error_Type = -1

var _ = Describe("Every route of the BBS API", func() {
	for _, tls := range []bool{false, true} {
		name := "over plain HTTP"
		if tls {
			name = "over HTTPS with a client certificate"
		}

		It(name, func() {
			Expect(etcd.Reset()).To(Succeed())
			fakeAuctioneer()
			fakeRep("cell-1")
			p := startBBS(tls)
			hc := &http.Client{Timeout: 10 * time.Second}
			if tls {
				tc, err := tlsconfig.ClientConfig(certs.ClientCert, certs.ClientKey, certs.CA)
				Expect(err).NotTo(HaveOccurred())
				hc.Transport = &http.Transport{TLSClientConfig: tc}
			}

			k := key("pg", 0)
			ik := instanceKey("cell-1")
			def := taskDef()
			def.ImageLayers = []*models.ImageLayer{{Url: "http://l", DestinationPath: "/l", LayerType: models.ImageLayer_SHARED, MediaType: models.ImageLayer_TGZ}}
			def.LegacyDownloadUser = "vcap"
			noLayers := func(m proto.Message) {
				Expect(m.(*models.TaskResponse).Task.TaskDefinition.ImageLayers).To(BeEmpty())
				Expect(m.(*models.TaskResponse).Task.TaskDefinition.CachedDependencies).To(HaveLen(1))
			}
			served := map[string]bool{}

			calls := []call{
				{route: bbs.UpsertDomainRoute, req: &models.UpsertDomainRequest{Domain: "apps"}, resp: &models.UpsertDomainResponse{}, want: ok},
				{route: bbs.DomainsRoute, resp: &models.DomainsResponse{}, want: ok, check: func(m proto.Message) {
					Expect(m.(*models.DomainsResponse).Domains).To(ConsistOf("apps"))
				}},
				{route: bbs.CellsRoute, resp: &models.CellsResponse{}, want: ok, check: func(m proto.Message) {
					Expect(m.(*models.CellsResponse).Cells).To(HaveLen(1))
				}},
				{route: bbs.DesireDesiredLRPRoute, req: &models.DesireLRPRequest{DesiredLrp: desiredLRP("pg", 1)}, resp: &models.DesiredLRPLifecycleResponse{}, want: ok},
				{route: bbs.DesiredLRPsRoute, req: &models.DesiredLRPsRequest{}, resp: &models.DesiredLRPsResponse{}, want: ok},
				{route: bbs.DesiredLRPsRoute_r2, req: &models.DesiredLRPsRequest{}, resp: &models.DesiredLRPsResponse{}, want: ok},
				{route: bbs.DesiredLRPByProcessGuidRoute, req: &models.DesiredLRPByProcessGuidRequest{ProcessGuid: "pg"}, resp: &models.DesiredLRPResponse{}, want: ok},
				{route: bbs.DesiredLRPByProcessGuidRoute_r2, req: &models.DesiredLRPByProcessGuidRequest{ProcessGuid: "pg"}, resp: &models.DesiredLRPResponse{}, want: ok},
				{route: bbs.DesiredLRPSchedulingInfosRoute, req: &models.DesiredLRPsRequest{Domain: "apps"}, resp: &models.DesiredLRPSchedulingInfosResponse{}, want: ok},
				{route: bbs.DesiredLRPSchedulingInfoByProcessGuidRoute, req: &models.DesiredLRPByProcessGuidRequest{ProcessGuid: "pg"}, resp: &models.DesiredLRPSchedulingInfoByProcessGuidResponse{}, want: ok},
				{route: bbs.DesiredLRPRoutingInfosRoute, req: &models.DesiredLRPsRequest{}, resp: &models.DesiredLRPsResponse{}, want: ok},
				{route: bbs.ClaimActualLRPRoute, req: &models.ClaimActualLRPRequest{ProcessGuid: "pg", ActualLrpInstanceKey: ik}, resp: &models.ActualLRPLifecycleResponse{}, want: ok},
				{route: bbs.StartActualLRPRoute_r0, req: &models.StartActualLRPRequest{ActualLrpKey: k, ActualLrpInstanceKey: ik, ActualLrpNetInfo: netInfo()}, resp: &models.ActualLRPLifecycleResponse{}, want: ok},
				{route: bbs.StartActualLRPRoute, req: &models.StartActualLRPRequest{ActualLrpKey: k, ActualLrpInstanceKey: ik, ActualLrpNetInfo: netInfo()}, resp: &models.ActualLRPLifecycleResponse{}, want: ok},
				{route: bbs.ActualLRPsRoute, req: &models.ActualLRPsRequest{CellId: "cell-1"}, resp: &models.ActualLRPsResponse{}, want: ok, check: func(m proto.Message) {
					Expect(m.(*models.ActualLRPsResponse).ActualLrps).To(HaveLen(1))
				}},
				{route: bbs.ActualLRPsByProcessGuidsRoute, req: &models.ActualLRPsByProcessGuidsRequest{ProcessGuids: []string{"pg"}}, resp: &models.ActualLRPsResponse{}, want: ok},
				{route: bbs.ActualLRPGroupsRoute, req: &models.ActualLRPGroupsRequest{Domain: "apps"}, resp: &models.ActualLRPGroupsResponse{}, want: ok},
				{route: bbs.ActualLRPGroupsByProcessGuidRoute, req: &models.ActualLRPGroupsByProcessGuidRequest{ProcessGuid: "pg"}, resp: &models.ActualLRPGroupsResponse{}, want: ok},
				{route: bbs.ActualLRPGroupByProcessGuidAndIndexRoute, req: &models.ActualLRPGroupByProcessGuidAndIndexRequest{ProcessGuid: "pg"}, resp: &models.ActualLRPGroupResponse{}, want: ok},
				{route: bbs.EvacuateRunningRoute_r0, req: &models.EvacuateRunningActualLRPRequest{ActualLrpKey: k, ActualLrpInstanceKey: ik, ActualLrpNetInfo: netInfo(), Ttl: 60}, resp: &models.EvacuationResponse{}, want: ok},
				{route: bbs.EvacuateRunningRoute, req: &models.EvacuateRunningActualLRPRequest{ActualLrpKey: k, ActualLrpInstanceKey: ik, ActualLrpNetInfo: netInfo()}, resp: &models.EvacuationResponse{}, want: ok},
				{route: bbs.RemoveEvacuatingRoute, req: &models.RemoveEvacuatingActualLRPRequest{ActualLrpKey: k, ActualLrpInstanceKey: ik}, resp: &models.RemoveEvacuatingActualLRPResponse{}, want: ok},
				{route: bbs.EvacuateClaimedRoute, req: &models.EvacuateClaimedActualLRPRequest{ActualLrpKey: k, ActualLrpInstanceKey: ik}, resp: &models.EvacuationResponse{}, want: ok},
				{route: bbs.EvacuateStoppedRoute, req: &models.EvacuateStoppedActualLRPRequest{ActualLrpKey: k, ActualLrpInstanceKey: ik}, resp: &models.EvacuationResponse{}, want: models.Error_ActualLRPCannotBeRemoved},
				{route: bbs.EvacuateCrashedRoute, req: &models.EvacuateCrashedActualLRPRequest{ActualLrpKey: k, ActualLrpInstanceKey: ik, ErrorMessage: "x"}, resp: &models.EvacuationResponse{}, want: models.Error_ActualLRPCannotBeCrashed},
				{route: bbs.FailActualLRPRoute, req: &models.FailActualLRPRequest{ActualLrpKey: k, ErrorMessage: "no room"}, resp: &models.ActualLRPLifecycleResponse{}, want: ok},
				{route: bbs.CrashActualLRPRoute, req: &models.CrashActualLRPRequest{ActualLrpKey: k, ActualLrpInstanceKey: ik}, resp: &models.ActualLRPLifecycleResponse{}, want: models.Error_ActualLRPCannotBeCrashed},
				{route: bbs.RemoveActualLRPRoute, req: &models.RemoveActualLRPRequest{ProcessGuid: "pg"}, resp: &models.ActualLRPLifecycleResponse{}, want: ok},
				{route: bbs.RetireActualLRPRoute, req: &models.RetireActualLRPRequest{ActualLrpKey: k}, resp: &models.ActualLRPLifecycleResponse{}, want: models.Error_ResourceNotFound},
				{route: bbs.UpdateDesiredLRPRoute, req: &models.UpdateDesiredLRPRequest{ProcessGuid: "pg", Update: &models.DesiredLRPUpdate{Instances: proto.Int32(2)}}, resp: &models.DesiredLRPLifecycleResponse{}, want: ok},
				{route: bbs.RemoveDesiredLRPRoute, req: &models.RemoveDesiredLRPRequest{ProcessGuid: "pg"}, resp: &models.DesiredLRPLifecycleResponse{}, want: ok},

				{route: bbs.DesireTaskRoute, req: &models.DesireTaskRequest{TaskGuid: "t", Domain: "d", TaskDefinition: def}, resp: &models.TaskLifecycleResponse{}, want: ok},
				{route: bbs.TasksRoute, req: &models.TasksRequest{Domain: "d"}, resp: &models.TasksResponse{}, want: ok},
				{route: bbs.TasksRoute_r2, req: &models.TasksRequest{}, resp: &models.TasksResponse{}, want: ok},
				{route: bbs.TaskByGuidRoute, req: &models.TaskByGuidRequest{TaskGuid: "t"}, resp: &models.TaskResponse{}, want: ok},
				{route: bbs.TaskByGuidRoute_r2, req: &models.TaskByGuidRequest{TaskGuid: "t"}, resp: &models.TaskResponse{}, want: ok, check: noLayers},
				{route: bbs.TaskByGuidRoute_GET, req: &models.TaskByGuidRequest{TaskGuid: "t"}, resp: &models.TaskResponse{}, want: ok, check: noLayers},
				{route: bbs.StartTaskRoute, req: &models.StartTaskRequest{TaskGuid: "t", CellId: "cell-1"}, resp: &models.StartTaskResponse{}, want: ok},
				{route: bbs.FailTaskRoute, req: &models.FailTaskRequest{TaskGuid: "t", FailureReason: "boom"}, resp: &models.TaskLifecycleResponse{}, want: ok},
				{route: bbs.RejectTaskRoute, req: &models.RejectTaskRequest{TaskGuid: "t", RejectionReason: "full"}, resp: &models.TaskLifecycleResponse{}, want: models.Error_InvalidRequest},
				{route: bbs.CompleteTaskRoute, req: &models.CompleteTaskRequest{TaskGuid: "t", CellId: "cell-1"}, resp: &models.TaskLifecycleResponse{}, want: models.Error_InvalidStateTransition},
				{route: bbs.ResolvingTaskRoute, req: &models.TaskGuidRequest{TaskGuid: "t"}, resp: &models.TaskLifecycleResponse{}, want: ok},
				{route: bbs.DeleteTaskRoute, req: &models.TaskGuidRequest{TaskGuid: "t"}, resp: &models.TaskLifecycleResponse{}, want: ok},
				{route: bbs.CancelTaskRoute, req: &models.TaskGuidRequest{TaskGuid: "t"}, resp: &models.TaskLifecycleResponse{}, want: models.Error_ResourceNotFound},

				{route: bbs.ConvergeTasksRoute, req: &models.ConvergeTasksRequest{KickTaskDuration: int64(30 * time.Second),
					ExpirePendingTaskDuration: int64(30 * time.Minute), ExpireCompletedTaskDuration: int64(2 * time.Minute)}, resp: &models.ConvergeTasksResponse{}, want: ok},
				{route: bbs.ConvergeTasksRoute, req: &models.ConvergeTasksRequest{}, resp: &models.ConvergeTasksResponse{}, want: models.Error_InvalidRequest},
				{route: bbs.ConvergeLRPsRoute, resp: &models.ConvergeLRPsResponse{}, want: ok},
			}

			for _, c := range calls {
				r, found := bbs.Routes.Lookup(c.route)
				Expect(found).To(BeTrue(), c.route)
				var body []byte
				if c.req != nil {
					var err error
					body, err = proto.Marshal(c.req)
					Expect(err).NotTo(HaveOccurred())
				}
				req, err := http.NewRequest(r.Method, p.url+r.Path, bytes.NewReader(body))
				Expect(err).NotTo(HaveOccurred())
				req.Header.Set("Content-Type", "application/x-protobuf")
				resp, err := hc.Do(req)
				Expect(err).NotTo(HaveOccurred(), c.route)
				raw, _ := io.ReadAll(resp.Body)
				resp.Body.Close()
				Expect(resp.StatusCode).To(Equal(http.StatusOK), c.route)
				Expect(proto.Unmarshal(raw, c.resp)).To(Succeed(), c.route)
				e := c.resp.(interface{ GetError() *models.Error }).GetError()
				if c.want == ok {
					Expect(e).To(BeNil(), c.route)
				} else {
					Expect(e.GetType()).To(Equal(c.want), "%s: %v", c.route, e)
				}
				if c.check != nil {
					c.check(c.resp)
				}
				served[c.route] = true
			}

			// Ping answers PingResponse; the streams answer SSE.
			resp, err := hc.Post(p.url+"/v1/ping", "application/x-protobuf", nil)
			Expect(err).NotTo(HaveOccurred())
			raw, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			var ping models.PingResponse
			Expect(proto.Unmarshal(raw, &ping)).To(Succeed())
			Expect(ping.Available).To(BeTrue())
			served[bbs.PingRoute] = true
			for _, stream := range []string{bbs.EventStreamRoute, bbs.EventStreamRoute_r0, bbs.TaskEventStreamRoute,
				bbs.TaskEventStreamRoute_r0, bbs.LRPInstanceEventStreamRoute, bbs.LRPInstanceEventStreamRoute_r0} {
				r, _ := bbs.Routes.Lookup(stream)
				req, _ := http.NewRequest(r.Method, p.url+r.Path, nil)
				resp, err := hc.Do(req)
				Expect(err).NotTo(HaveOccurred())
				Expect(resp.StatusCode).To(Equal(http.StatusOK), stream)
				Expect(resp.Header.Get("Content-Type")).To(HavePrefix("text/event-stream"), stream)
				resp.Body.Close()
				served[stream] = true
			}

			for _, r := range bbs.Routes {
				Expect(served).To(HaveKey(r.Name), "route %s is exercised", r.Name)
			}
		})
	}
})
