package nsync_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"diego/ccbridge/nsync"
	"diego/ccbridge/nsync/nsyncfakes"
	"diego/deploy/logging"
	"diego/receptor"
)

var _ = Describe("The listener's create-or-update (spec bridge §3.1)", func() {
	var (
		rc      *nsyncfakes.FakeReceptor
		handler http.Handler
	)
	BeforeEach(func() {
		rc = &nsyncfakes.FakeReceptor{}
		var err error
		handler, err = nsync.NewListener(nsync.ListenerDeps{Logger: logging.Discard(), Receptor: rc, Recipes: builder})
		Expect(err).NotTo(HaveOccurred())
	})
	put := func() int {
		req := desireRequest()
		body, _ := json.Marshal(req)
		w := httptest.NewRecorder()
		handler.ServeHTTP(w, httptest.NewRequest("PUT", "/v1/apps/"+req.ProcessGuid, bytes.NewReader(body)))
		return w.Code
	}

	It("answers 409 after two lost races", func() {
		rc.GetDesiredLRPReturns(receptor.DesiredLRPResponse{}, nil)
		rc.UpdateDesiredLRPReturns(&receptor.Error{Type: receptor.ResourceConflict, Message: "failed to update"})
		Expect(put()).To(Equal(http.StatusConflict))
		Expect(rc.UpdateDesiredLRPCallCount()).To(Equal(2))
	})

	It("updates after a create lost to another creator", func() {
		rc.GetDesiredLRPReturnsOnCall(0, receptor.DesiredLRPResponse{}, &receptor.Error{Type: receptor.DesiredLRPNotFound})
		rc.CreateDesiredLRPReturns(&receptor.Error{Type: receptor.DesiredLRPAlreadyExists})
		rc.GetDesiredLRPReturnsOnCall(1, receptor.DesiredLRPResponse{}, nil)
		Expect(put()).To(Equal(http.StatusAccepted))
		Expect(rc.CreateDesiredLRPCallCount()).To(Equal(1))
		Expect(rc.UpdateDesiredLRPCallCount()).To(Equal(1))
	})

	It("answers 503 when the receptor fails otherwise", func() {
		rc.GetDesiredLRPReturns(receptor.DesiredLRPResponse{}, errors.New("connection refused"))
		Expect(put()).To(Equal(http.StatusServiceUnavailable))
	})
})
