package routes_test

import (
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"diego/deploy/routes"
)

var table = routes.Table{
	{Name: "DesiredLRPs", Method: "POST", Path: "/v1/desired_lrps/list.r3"},
	{Name: "DesireTask", Method: "POST", Path: "/v1/tasks/desire.r2"},
	{Name: "GetTask", Method: "GET", Path: "/v1/tasks/:task_guid"},
	{Name: "DeleteTask", Method: "DELETE", Path: "/v1/tasks/:task_guid"},
	{Name: "ActualLRPAtIndex", Method: "GET", Path: "/v1/actual_lrps/:process_guid/index/:index"},
}

// echo answers with the route name and its params, so tests can see what matched.
func echo(name string, params ...string) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprint(w, name)
		for _, p := range params {
			fmt.Fprintf(w, " %s=%s", p, routes.Param(r, p))
		}
	})
}

func handlers() map[string]http.Handler {
	return map[string]http.Handler{
		"DesiredLRPs":      echo("DesiredLRPs"),
		"DesireTask":       echo("DesireTask"),
		"GetTask":          echo("GetTask", "task_guid"),
		"DeleteTask":       echo("DeleteTask", "task_guid"),
		"ActualLRPAtIndex": echo("ActualLRPAtIndex", "process_guid", "index"),
	}
}

func serve(h http.Handler, method, target string) *httptest.ResponseRecorder {
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest(method, target, nil))
	return rec
}

var _ = Describe("Table", func() {
	It("looks routes up by name", func() {
		r, ok := table.Lookup("GetTask")
		Expect(ok).To(BeTrue())
		Expect(r).To(Equal(routes.Route{Name: "GetTask", Method: "GET", Path: "/v1/tasks/:task_guid"}))

		_, ok = table.Lookup("Nope")
		Expect(ok).To(BeFalse())
	})
})

var _ = Describe("Route.CreatePath", func() {
	It("fills in and escapes params", func() {
		r, _ := table.Lookup("ActualLRPAtIndex")
		path, err := r.CreatePath(routes.Params{"process_guid": "a/b c", "index": "2"})
		Expect(err).NotTo(HaveOccurred())
		Expect(path).To(Equal("/v1/actual_lrps/a%2Fb%20c/index/2"))
	})

	It("errors on a missing param", func() {
		r, _ := table.Lookup("ActualLRPAtIndex")
		_, err := r.CreatePath(routes.Params{"process_guid": "pg"})
		Expect(err).To(MatchError(`route ActualLRPAtIndex: missing param "index"`))
	})
})

var _ = Describe("NewRouter", func() {
	var router http.Handler

	BeforeEach(func() {
		var err error
		router, err = routes.NewRouter(table, handlers())
		Expect(err).NotTo(HaveOccurred())
	})

	It("routes literal paths containing dots", func() {
		rec := serve(router, "POST", "/v1/desired_lrps/list.r3")
		Expect(rec.Code).To(Equal(http.StatusOK))
		Expect(rec.Body.String()).To(Equal("DesiredLRPs"))

		Expect(serve(router, "POST", "/v1/tasks/desire.r2").Body.String()).To(Equal("DesireTask"))
	})

	It("does not treat a dot as a wildcard", func() {
		Expect(serve(router, "POST", "/v1/desired_lrps/listxr3").Code).To(Equal(http.StatusNotFound))
	})

	It("passes params to the handler, by method", func() {
		Expect(serve(router, "GET", "/v1/tasks/t-1").Body.String()).To(Equal("GetTask task_guid=t-1"))
		Expect(serve(router, "DELETE", "/v1/tasks/t-1").Body.String()).To(Equal("DeleteTask task_guid=t-1"))
		Expect(serve(router, "GET", "/v1/actual_lrps/pg-1/index/3").Body.String()).
			To(Equal("ActualLRPAtIndex process_guid=pg-1 index=3"))
	})

	It("unescapes params, including an escaped slash", func() {
		rec := serve(router, "GET", "/v1/tasks/a%2Fb%20c")
		Expect(rec.Body.String()).To(Equal("GetTask task_guid=a/b c"))
	})

	It("answers 404 for an unknown path", func() {
		Expect(serve(router, "GET", "/v1/nope").Code).To(Equal(http.StatusNotFound))
		Expect(serve(router, "GET", "/v1/tasks/t-1/extra").Code).To(Equal(http.StatusNotFound))
	})

	It("answers 405 for a known path with the wrong method", func() {
		Expect(serve(router, "GET", "/v1/desired_lrps/list.r3").Code).To(Equal(http.StatusMethodNotAllowed))
		Expect(serve(router, "PUT", "/v1/tasks/t-1").Code).To(Equal(http.StatusMethodNotAllowed))
	})

	It("errors when a route has no handler", func() {
		hs := handlers()
		delete(hs, "GetTask")
		_, err := routes.NewRouter(table, hs)
		Expect(err).To(MatchError(`no handler for route "GetTask"`))
	})

	It("errors when a handler has no route", func() {
		hs := handlers()
		hs["GetTsk"] = echo("GetTsk")
		_, err := routes.NewRouter(table, hs)
		Expect(err).To(MatchError(`no route for handlers ["GetTsk"]`))
	})

	It("errors on duplicate route names", func() {
		dup := append(routes.Table{}, table...)
		dup = append(dup, routes.Route{Name: "GetTask", Method: "GET", Path: "/v2/tasks/:task_guid"})
		_, err := routes.NewRouter(dup, handlers())
		Expect(err).To(MatchError(`duplicate route name "GetTask"`))
	})

	It("errors on a route without a method", func() {
		bad := routes.Table{{Name: "X", Path: "/x"}}
		_, err := routes.NewRouter(bad, map[string]http.Handler{"X": echo("X")})
		Expect(err).To(MatchError(ContainSubstring("invalid route")))
	})
})

var _ = Describe("RequestGenerator", func() {
	var generator *routes.RequestGenerator

	BeforeEach(func() {
		generator = routes.NewRequestGenerator("http://bbs.example.com:8889/", table)
	})

	It("builds the method, URL and body", func() {
		req, err := generator.CreateRequest("DesireTask", nil, strings.NewReader("payload"))
		Expect(err).NotTo(HaveOccurred())
		Expect(req.Method).To(Equal("POST"))
		Expect(req.URL.String()).To(Equal("http://bbs.example.com:8889/v1/tasks/desire.r2"))
		body, err := io.ReadAll(req.Body)
		Expect(err).NotTo(HaveOccurred())
		Expect(string(body)).To(Equal("payload"))
	})

	It("escapes param values", func() {
		req, err := generator.CreateRequest("GetTask", routes.Params{"task_guid": "a/b?c#d"}, nil)
		Expect(err).NotTo(HaveOccurred())
		Expect(req.URL.EscapedPath()).To(Equal("/v1/tasks/a%2Fb%3Fc%23d"))
		Expect(req.URL.RawQuery).To(BeEmpty())
		Expect(req.URL.Fragment).To(BeEmpty())
	})

	It("errors on an unknown route", func() {
		_, err := generator.CreateRequest("Nope", nil, nil)
		Expect(err).To(MatchError(`unknown route "Nope"`))
	})

	It("errors on a missing param", func() {
		_, err := generator.CreateRequest("GetTask", routes.Params{}, nil)
		Expect(err).To(MatchError(ContainSubstring(`missing param "task_guid"`)))
	})

	It("round-trips through the router over HTTP", func() {
		router, err := routes.NewRouter(table, handlers())
		Expect(err).NotTo(HaveOccurred())
		server := httptest.NewServer(router)
		defer server.Close()

		generator = routes.NewRequestGenerator(server.URL, table)
		params := routes.Params{"process_guid": "my app/ü?x=1", "index": "0"}
		req, err := generator.CreateRequest("ActualLRPAtIndex", params, nil)
		Expect(err).NotTo(HaveOccurred())

		resp, err := http.DefaultClient.Do(req)
		Expect(err).NotTo(HaveOccurred())
		defer resp.Body.Close()
		body, err := io.ReadAll(resp.Body)
		Expect(err).NotTo(HaveOccurred())
		Expect(resp.StatusCode).To(Equal(http.StatusOK))
		Expect(string(body)).To(Equal("ActualLRPAtIndex process_guid=my app/ü?x=1 index=0"))
	})
})
