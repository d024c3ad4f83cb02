package handlers_test

import (
	"bytes"
	"io"
	"net/http"
	"net/http/httptest"
	"time"

	"google.golang.org/protobuf/proto"

	"diego/bbs"
	"diego/bbs/db/dbfakes"
	"diego/bbs/events"
	"diego/bbs/handlers"
	"diego/bbs/handlers/handlersfakes"
	"diego/deploy/clock/fakeclock"
	"diego/deploy/logging"
)

// fixture is a Server over fakes.
type fixture struct {
	server     *handlers.Server
	tasks      *dbfakes.FakeTaskDB
	desired    *dbfakes.FakeDesiredLRPDB
	actual     *dbfakes.FakeActualLRPDB
	domains    *dbfakes.FakeDomainDB
	cells      *dbfakes.FakeCellDB
	auctioneer *handlersfakes.FakeAuctioneer
	reps       *handlersfakes.FakeReps
	rep        *handlersfakes.FakeRepClient
	callbacks  *handlersfakes.FakeCallbacks
	metrics    *handlersfakes.FakeMetrics
}

func newFixture() *fixture {
	f := &fixture{
		tasks: &dbfakes.FakeTaskDB{}, desired: &dbfakes.FakeDesiredLRPDB{}, actual: &dbfakes.FakeActualLRPDB{},
		domains: &dbfakes.FakeDomainDB{}, cells: &dbfakes.FakeCellDB{},
		auctioneer: &handlersfakes.FakeAuctioneer{}, reps: &handlersfakes.FakeReps{},
		rep: &handlersfakes.FakeRepClient{}, callbacks: &handlersfakes.FakeCallbacks{},
		metrics: &handlersfakes.FakeMetrics{},
	}
	f.reps.RepReturns(f.rep, nil)
	server, err := handlers.New(handlers.Deps{
		Logger: logging.Discard(), Clock: fakeclock.NewFakeClock(time.Unix(1, 0)),
		Tasks: f.tasks, DesiredLRPs: f.desired, ActualLRPs: f.actual, Domains: f.domains, Cells: f.cells,
		Auctioneer: f.auctioneer, Reps: f.reps, Callbacks: f.callbacks, Metrics: f.metrics, Hub: events.NewHub(),
		MaxTaskRetries: 3, MaxRequestBytes: 4096,
	})
	if err != nil {
		panic(err)
	}
	server.MarkReady()
	f.server = server
	return f
}

// post sends body to the route and returns the status and raw response.
func (f *fixture) post(route string, body []byte) (int, []byte) {
	r, ok := bbs.Routes.Lookup(route)
	if !ok {
		panic("no route " + route)
	}
	req := httptest.NewRequest(r.Method, r.Path, bytes.NewReader(body))
	req.Header.Set("Content-Type", "application/x-protobuf")
	w := httptest.NewRecorder()
	f.server.ServeHTTP(w, req)
	out, _ := io.ReadAll(w.Result().Body)
	return w.Code, out
}

// call sends req and decodes the response into resp.
func (f *fixture) call(route string, req, resp proto.Message) {
	body, err := proto.Marshal(req)
	if err != nil {
		panic(err)
	}
	status, out := f.post(route, body)
	if status != http.StatusOK {
		panic("unexpected status")
	}
	if err := proto.Unmarshal(out, resp); err != nil {
		panic(err)
	}
}
