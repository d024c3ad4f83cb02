package handlers_test

import (
	"net/http"
	"net/http/httptest"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"diego/deploy/logging"
	"diego/rep"
	"diego/rep/evacuator"
	"diego/rep/handlers"
	"diego/rep/handlers/handlersfakes"
)

var _ = Describe("The admin and securable listeners' handlers", func() {
	var deps handlers.Deps

	BeforeEach(func() {
		cellRep := new(handlersfakes.FakeCellRep)
		cellRep.StateReturns(rep.CellState{CellID: "cell-1"}, true, nil)
		deps = handlers.Deps{Logger: logging.Discard(), CellRep: cellRep, Executor: new(handlersfakes.FakeExecutorClient),
			Evacuation: evacuator.NewFlag()}
	})

	status := func(h http.Handler, method, path string) int {
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, httptest.NewRequest(method, path, nil))
		return rec.Code
	}

	It("serves only /ping and /evacuate on the admin listener", func() {
		admin, err := handlers.NewAdmin(deps)
		Expect(err).NotTo(HaveOccurred())
		Expect(status(admin, http.MethodGet, "/ping")).To(Equal(http.StatusOK))
		Expect(status(admin, http.MethodPost, "/evacuate")).To(Equal(http.StatusAccepted))
		Expect(status(admin, http.MethodGet, "/state")).To(Equal(http.StatusNotFound))
		Expect(status(admin, http.MethodPost, "/v1/tasks/t/cancel")).To(Equal(http.StatusNotFound))
	})

	It("serves every route but /ping and /evacuate on the securable listener", func() {
		securable, err := handlers.NewSecurable(deps)
		Expect(err).NotTo(HaveOccurred())
		Expect(status(securable, http.MethodGet, "/state")).To(Equal(http.StatusOK))
		Expect(status(securable, http.MethodGet, "/ping")).To(Equal(http.StatusNotFound))
		Expect(status(securable, http.MethodPost, "/v1/tasks/t/cancel")).To(Equal(http.StatusAccepted))
		Expect(status(securable, http.MethodPost, "/evacuate")).To(Equal(http.StatusNotFound))
		Expect(deps.Evacuation.(*evacuator.Flag).Evacuating()).To(BeFalse())
	})
})
