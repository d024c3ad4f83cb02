package server_test

import (
	"archive/tar"
	"bytes"
	"errors"
	"io"
	"net/http"
	"strings"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"diego/garden"
	"diego/garden/gardenfakes"
)

var _ = Describe("Server routes", func() {
	Describe("GET /ping", func() {
		It("answers {}", func() {
			expectJSON("GET", "/ping", "", 200, `{}`)
			Expect(backend.PingCallCount()).To(Equal(1))
		})

		It("answers 500 with the generic error JSON when the backend is unhealthy", func() {
			backend.PingReturns(errors.New("backend down"))
			expectJSON("GET", "/ping", "", 500,
				`{"Type":"","Message":"backend down","Handle":"","ProcessID":"","Binary":""}`)
		})

		It("types the wire errors", func() {
			backend.PingReturns(garden.ServiceUnavailableError{Cause: "starting"})
			expectJSON("GET", "/ping", "", 500,
				`{"Type":"ServiceUnavailableError","Message":"starting","Handle":"","ProcessID":"","Binary":""}`)
			backend.PingReturns(garden.UnrecoverableError{Symptom: "broken"})
			expectJSON("GET", "/ping", "", 500,
				`{"Type":"UnrecoverableError","Message":"broken","Handle":"","ProcessID":"","Binary":""}`)
		})
	})

	It("serves GET /capacity", func() {
		backend.CapacityReturns(garden.Capacity{MemoryInBytes: 1, DiskInBytes: 2, SchedulableDiskInBytes: 3, MaxContainers: 256}, nil)
		expectJSON("GET", "/capacity", "", 200,
			`{"memory_in_bytes":1,"disk_in_bytes":2,"schedulable_disk_in_bytes":3,"max_containers":256}`)
	})

	Describe("GET /containers", func() {
		It("passes the query as the property filter and answers the handles", func() {
			c2 := new(gardenfakes.FakeContainer)
			c2.HandleReturns("h2")
			backend.ContainersReturns([]garden.Container{container, c2}, nil)
			expectJSON("GET", "/containers?garden.state=all&app=a%201", "", 200, `{"Handles":["h1","h2"]}`)
			Expect(backend.ContainersArgsForCall(backend.ContainersCallCount() - 1)).
				To(Equal(garden.Properties{"garden.state": "all", "app": "a 1"}))
		})

		It("answers an empty list as []", func() {
			expectJSON("GET", "/containers", "", 200, `{"Handles":[]}`)
			Expect(backend.ContainersArgsForCall(backend.ContainersCallCount() - 1)).To(Equal(garden.Properties{}))
		})
	})

	Describe("POST /containers", func() {
		It("creates the container from the spec and answers its handle", func() {
			backend.CreateReturns(container, nil)
			expectJSON("POST", "/containers",
				`{"handle":"h1","grace_time":5000000000,"image":{"uri":"raw:///rootfs"},"properties":{"a":"b"},"env":["K=V"],
				  "limits":{"memory_limits":{"limit_in_bytes":1024}},"netin":[{"host_port":0,"container_port":8080}]}`,
				200, `{"Handle":"h1"}`)
			Expect(backend.CreateArgsForCall(0)).To(Equal(garden.ContainerSpec{
				Handle:     "h1",
				GraceTime:  5 * time.Second,
				Image:      garden.ImageRef{URI: "raw:///rootfs"},
				Properties: garden.Properties{"a": "b"},
				Env:        []string{"K=V"},
				Limits:     garden.Limits{Memory: garden.MemoryLimits{LimitInBytes: 1024}},
				NetIn:      []garden.NetInSpec{{ContainerPort: 8080}},
			}))
		})

		It("answers 500 with a clear message for an undecodable body", func() {
			resp, body := call("POST", "/containers", strings.NewReader(`{"handle":`))
			Expect(resp.StatusCode).To(Equal(500))
			Expect(resp.Header.Get("Content-Type")).To(Equal("application/json"))
			var e garden.Error
			Expect(jsonUnmarshal(body, &e)).To(Succeed())
			Expect(e.Type).To(Equal(""))
			Expect(e.Message).To(ContainSubstring("decoding /containers request body"))
			Expect(backend.CreateCallCount()).To(Equal(0))
		})

		It("answers the backend's error", func() {
			backend.CreateReturns(nil, errors.New("handle already exists: h1"))
			expectJSON("POST", "/containers", `{}`, 500,
				`{"Type":"","Message":"handle already exists: h1","Handle":"","ProcessID":"","Binary":""}`)
		})
	})

	Describe("GET /containers/:handle/info", func() {
		It("answers the ContainerInfo with Go field names as keys", func() {
			container.InfoReturns(garden.ContainerInfo{
				State: "active", Events: []string{"Out of memory"}, HostIP: "10.254.0.1", ContainerIP: "10.254.0.2",
				ExternalIP: "10.0.0.5", ContainerPath: "/depot/h1", ProcessIDs: []string{"p1"},
				Properties:  garden.Properties{"k": "v"},
				MappedPorts: []garden.PortMapping{{HostPort: 61001, ContainerPort: 8080}},
			}, nil)
			expectJSON("GET", "/containers/h1/info", "", 200, `{"State":"active","Events":["Out of memory"],
				"HostIP":"10.254.0.1","ContainerIP":"10.254.0.2","ContainerIPv6":"","ExternalIP":"10.0.0.5",
				"ContainerPath":"/depot/h1","ProcessIDs":["p1"],"Properties":{"k":"v"},
				"MappedPorts":[{"HostPort":61001,"ContainerPort":8080}]}`)
		})

		It("answers 404 with the exact error JSON for an unknown handle", func() {
			resp, body := call("GET", "/containers/nope/info", nil)
			Expect(resp.StatusCode).To(Equal(404))
			Expect(resp.Header.Get("Content-Type")).To(Equal("application/json"))
			Expect(body).To(Equal(notFound("nope")))
		})
	})

	Describe("bulk routes", func() {
		It("serves GET /containers/bulk_info with a comma list", func() {
			backend.BulkInfoReturns(map[string]garden.ContainerInfoEntry{
				"a": {Info: garden.ContainerInfo{State: "active"}},
				"b": {Err: garden.NewError(garden.ContainerNotFoundError{Handle: "b"})},
			}, nil)
			resp, body := call("GET", "/containers/bulk_info?handles=a,b", nil)
			Expect(resp.StatusCode).To(Equal(200))
			Expect(body).To(MatchJSON(`{
				"a":{"Info":{"State":"active","Events":null,"HostIP":"","ContainerIP":"","ContainerIPv6":"","ExternalIP":"",
				     "ContainerPath":"","ProcessIDs":null,"Properties":null,"MappedPorts":null},"Err":null},
				"b":{"Info":{"State":"","Events":null,"HostIP":"","ContainerIP":"","ContainerIPv6":"","ExternalIP":"",
				     "ContainerPath":"","ProcessIDs":null,"Properties":null,"MappedPorts":null},"Err":` + notFound("b") + `}}`))
			Expect(backend.BulkInfoArgsForCall(0)).To(Equal([]string{"a", "b"}))
		})

		It("serves GET /containers/bulk_metrics with a comma list", func() {
			backend.BulkMetricsReturns(map[string]garden.ContainerMetricsEntry{
				"a": {Metrics: garden.Metrics{Age: time.Second, CPUStat: garden.ContainerCPUStat{Usage: 7}}},
			}, nil)
			resp, body := call("GET", "/containers/bulk_metrics?handles=a", nil)
			Expect(resp.StatusCode).To(Equal(200))
			Expect(body).To(ContainSubstring(`"Err":null`))
			Expect(body).To(ContainSubstring(`"Age":1000000000`))
			Expect(body).To(ContainSubstring(`"CPUStat":{"Usage":7,"User":0,"System":0}`))
			Expect(backend.BulkMetricsArgsForCall(0)).To(Equal([]string{"a"}))
		})

		It("answers {} for no handles", func() {
			expectJSON("GET", "/containers/bulk_info?handles=", "", 200, `{}`)
			Expect(backend.BulkInfoArgsForCall(0)).To(BeEmpty())
		})
	})

	Describe("DELETE /containers/:handle", func() {
		It("destroys and answers {}", func() {
			expectJSON("DELETE", "/containers/h1", "", 200, `{}`)
			Expect(backend.DestroyArgsForCall(0)).To(Equal("h1"))
		})

		It("answers 404 for an unknown handle and 500 for a concurrent destroy", func() {
			backend.DestroyReturnsOnCall(0, garden.ContainerNotFoundError{Handle: "nope"})
			backend.DestroyReturnsOnCall(1, garden.ErrAlreadyBeingDestroyed)
			expectJSON("DELETE", "/containers/nope", "", 404, notFound("nope"))
			expectJSON("DELETE", "/containers/h1", "", 500,
				`{"Type":"","Message":"container already being destroyed","Handle":"","ProcessID":"","Binary":""}`)
		})
	})

	Describe("PUT /containers/:handle/stop", func() {
		It("passes kill", func() {
			expectJSON("PUT", "/containers/h1/stop", `{"kill":true}`, 200, `{}`)
			expectJSON("PUT", "/containers/h1/stop", `{"kill":false}`, 200, `{}`)
			Expect(container.StopArgsForCall(0)).To(BeTrue())
			Expect(container.StopArgsForCall(1)).To(BeFalse())
		})

		It("answers 500 for a malformed body", func() {
			resp, _ := call("PUT", "/containers/h1/stop", strings.NewReader(`kill`))
			Expect(resp.StatusCode).To(Equal(500))
			Expect(container.StopCallCount()).To(Equal(0))
		})

		It("answers 404 for an unknown handle", func() {
			expectJSON("PUT", "/containers/nope/stop", `{"kill":true}`, 404, notFound("nope"))
		})
	})

	Describe("files", func() {
		It("streams a tar in to the destination as the user", func() {
			var got []byte
			container.StreamInStub = func(spec garden.StreamInSpec) error {
				Expect(spec.Path).To(Equal("/tmp/dir"))
				Expect(spec.User).To(Equal("vcap"))
				var err error
				got, err = io.ReadAll(spec.TarStream)
				return err
			}
			tarball := makeTar("a.txt", "hello")
			expectJSON("PUT", "/containers/h1/files?destination=/tmp/dir&user=vcap", string(tarball), 200, `{}`)
			Expect(got).To(Equal(tarball))
		})

		It("streams a raw tar out", func() {
			tarball := makeTar("result.json", "{}")
			container.StreamOutReturns(io.NopCloser(bytes.NewReader(tarball)), nil)
			resp, body := call("GET", "/containers/h1/files?source=/tmp/result.json&user=vcap", nil)
			Expect(resp.StatusCode).To(Equal(200))
			Expect(resp.Header.Get("Content-Type")).To(Equal("application/x-tar"))
			Expect([]byte(body)).To(Equal(tarball))
			Expect(container.StreamOutArgsForCall(0)).To(Equal(garden.StreamOutSpec{Path: "/tmp/result.json", User: "vcap"}))
		})

		It("keeps the connection of stream in and stream out: a framed body, no Connection: close", func() {
			tarball := makeTar("result.json", "{}")
			container.StreamOutReturns(io.NopCloser(bytes.NewReader(tarball)), nil)
			out := dialRaw("GET", "/containers/h1/files?source=/tmp/result.json", "")
			status, header := out.head()
			Expect(status).To(Equal("HTTP/1.1 200 OK"))
			Expect(header).NotTo(HaveKey("Connection"))
			Expect(header.Get("Content-Type")).To(Equal("application/x-tar"))
			// A short tar fits net/http's buffer and gets a length; longer
			// ones go out chunked. Either way the body has an end.
			Expect(header).To(Or(HaveKey("Content-Length"), HaveKeyWithValue("Transfer-Encoding", []string{"chunked"})))

			container.StreamInStub = func(spec garden.StreamInSpec) error {
				_, err := io.Copy(io.Discard, spec.TarStream)
				return err
			}
			in := dialRaw("PUT", "/containers/h1/files?destination=/tmp", string(tarball))
			status, header = in.head()
			Expect(status).To(Equal("HTTP/1.1 200 OK"))
			Expect(header).To(Equal(http.Header{"Content-Type": {"application/json"}, "Content-Length": {"2"}}))
		})

		It("answers an error that comes before any byte as error JSON", func() {
			container.StreamOutReturns(nil, errors.New("no such file"))
			expectJSON("GET", "/containers/h1/files?source=/nope", "", 500,
				`{"Type":"","Message":"no such file","Handle":"","ProcessID":"","Binary":""}`)
		})

		It("truncates the stream on an error after the first bytes", func() {
			container.StreamOutReturns(io.NopCloser(io.MultiReader(
				strings.NewReader("partial"), errReader{errors.New("disk gone")})), nil)
			resp, err := http.Get(httpSrv.URL + "/containers/h1/files?source=/x")
			Expect(err).NotTo(HaveOccurred())
			defer resp.Body.Close()
			Expect(resp.StatusCode).To(Equal(200))
			data, err := io.ReadAll(resp.Body)
			Expect(err).To(HaveOccurred())
			Expect(string(data)).To(Equal("partial"))
		})
	})

	Describe("limits", func() {
		It("serves the four limit GETs", func() {
			container.CurrentBandwidthLimitsReturns(garden.BandwidthLimits{}, nil)
			container.CurrentCPULimitsReturns(garden.CPULimits{LimitInShares: 512}, nil)
			container.CurrentDiskLimitsReturns(garden.DiskLimits{ByteHard: 10, InodeHard: 20, Scope: garden.DiskLimitScopeExclusive}, nil)
			container.CurrentMemoryLimitsReturns(garden.MemoryLimits{LimitInBytes: 1 << 20}, nil)
			expectJSON("GET", "/containers/h1/limits/bandwidth", "", 200, `{}`)
			expectJSON("GET", "/containers/h1/limits/cpu", "", 200, `{"limit_in_shares":512}`)
			expectJSON("GET", "/containers/h1/limits/disk", "", 200, `{"byte_hard":10,"inode_hard":20,"scope":1}`)
			expectJSON("GET", "/containers/h1/limits/memory", "", 200, `{"limit_in_bytes":1048576}`)
		})

		It("answers 404 for an unknown handle", func() {
			expectJSON("GET", "/containers/nope/limits/memory", "", 404, notFound("nope"))
		})
	})

	Describe("networking", func() {
		It("serves NetIn with the ports actually used", func() {
			container.NetInReturns(61001, 8080, nil)
			expectJSON("POST", "/containers/h1/net/in", `{"handle":"h1","host_port":0,"container_port":8080}`,
				200, `{"host_port":61001,"container_port":8080}`)
			hp, cp := container.NetInArgsForCall(0)
			Expect(hp).To(BeZero())
			Expect(cp).To(Equal(uint32(8080)))
		})

		It("serves NetOut and BulkNetOut", func() {
			rule := `{"protocol":1,"networks":[{"start":"10.0.0.1","end":"10.0.0.9"}],"ports":[{"start":80,"end":443}],"log":true}`
			expectJSON("POST", "/containers/h1/net/out", rule, 200, `{}`)
			expectJSON("POST", "/containers/h1/net/out/bulk", "["+rule+`,{"protocol":3,"icmps":{"type":8}}]`, 200, `{}`)
			want := garden.NetOutRule{
				Protocol: garden.ProtocolTCP,
				Networks: []garden.IPRange{{Start: "10.0.0.1", End: "10.0.0.9"}},
				Ports:    []garden.PortRange{{Start: 80, End: 443}},
				Log:      true,
			}
			Expect(container.NetOutArgsForCall(0)).To(Equal(want))
			Expect(container.BulkNetOutArgsForCall(0)).To(Equal([]garden.NetOutRule{
				want, {Protocol: garden.ProtocolICMP, ICMPs: &garden.ICMPControl{Type: 8}},
			}))
		})

		It("answers 500 for malformed rules", func() {
			resp, _ := call("POST", "/containers/h1/net/out/bulk", strings.NewReader(`{"protocol":1}`))
			Expect(resp.StatusCode).To(Equal(500))
			Expect(container.BulkNetOutCallCount()).To(Equal(0))
		})
	})

	It("serves PUT grace_time with integer nanoseconds", func() {
		expectJSON("PUT", "/containers/h1/grace_time", `3000000000`, 200, `{}`)
		Expect(container.SetGraceTimeArgsForCall(0)).To(Equal(3 * time.Second))
	})

	Describe("properties", func() {
		It("serves all four property routes", func() {
			container.PropertiesReturns(garden.Properties{"a": "1", "garden.state": "created"}, nil)
			container.PropertyReturns("1", nil)
			expectJSON("GET", "/containers/h1/properties", "", 200, `{"a":"1","garden.state":"created"}`)
			expectJSON("GET", "/containers/h1/properties/a", "", 200, `{"value":"1"}`)
			expectJSON("PUT", "/containers/h1/properties/b", `{"value":"2"}`, 200, `{}`)
			expectJSON("DELETE", "/containers/h1/properties/a", "", 200, `{}`)
			Expect(container.PropertyArgsForCall(0)).To(Equal("a"))
			k, v := container.SetPropertyArgsForCall(0)
			Expect([]string{k, v}).To(Equal([]string{"b", "2"}))
			Expect(container.RemovePropertyArgsForCall(0)).To(Equal("a"))
		})

		It("answers a missing property's error", func() {
			container.PropertyReturns("", errors.New("property does not exist: x"))
			expectJSON("GET", "/containers/h1/properties/x", "", 500,
				`{"Type":"","Message":"property does not exist: x","Handle":"","ProcessID":"","Binary":""}`)
		})
	})

	It("serves GET metrics", func() {
		container.MetricsReturns(garden.Metrics{
			MemoryStat: garden.ContainerMemoryStat{TotalRss: 5, TotalUsageTowardLimit: 9},
			DiskStat:   garden.ContainerDiskStat{TotalBytesUsed: 100},
			PidStat:    garden.ContainerPidStat{Current: 2, Max: 10},
			Age:        time.Minute,
		}, nil)
		resp, body := call("GET", "/containers/h1/metrics", nil)
		Expect(resp.StatusCode).To(Equal(200))
		Expect(body).To(ContainSubstring(`"total_rss":5`))
		Expect(body).To(ContainSubstring(`"TotalUsageTowardLimit":9`))
		Expect(body).To(ContainSubstring(`"NetworkStat":null`))
		Expect(body).To(ContainSubstring(`"PidStat":{"Current":2,"Max":10}`))
		Expect(body).To(ContainSubstring(`"Age":60000000000`))
	})

	It("answers 404 for a path outside the table", func() {
		resp, _ := call("GET", "/nope", nil)
		Expect(resp.StatusCode).To(Equal(404))
	})

	It("serves every route of the table with JSON", func() {
		container.StreamOutReturns(io.NopCloser(strings.NewReader("")), nil)
		bodies := map[string]string{
			garden.CreateRoute: `{}`, garden.StopRoute: `{}`, garden.NetInRoute: `{}`, garden.NetOutRoute: `{}`,
			garden.BulkNetOutRoute: `[]`, garden.SetGraceTimeRoute: `0`, garden.SetPropertyRoute: `{"value":""}`,
			garden.RunRoute: `{}`,
		}
		backend.CreateReturns(container, nil)
		// Run fails to spawn: the answer is still the API's error JSON.
		container.RunReturns(nil, errors.New("no process"))
		container.AttachReturns(nil, garden.ProcessNotFoundError{ProcessID: "nope"})
		for _, r := range garden.Routes {
			path := strings.NewReplacer(":handle", "h1", ":key", "k", ":pid", "nope", ":streamid", "1").Replace(r.Path)
			var body io.Reader
			if b, ok := bodies[r.Name]; ok {
				body = strings.NewReader(b)
			}
			resp, text := call(r.Method, path, body)
			switch r.Name {
			case garden.RunRoute:
				Expect(resp.StatusCode).To(Equal(500), r.Name)
			case garden.AttachRoute, garden.StdoutRoute, garden.StderrRoute:
				Expect(resp.StatusCode).To(Equal(404), r.Name)
			case garden.StreamOutRoute:
				Expect(resp.StatusCode).To(Equal(200), r.Name)
				continue
			default:
				Expect(resp.StatusCode).To(Equal(200), r.Name+": "+text)
			}
			Expect(resp.Header.Get("Content-Type")).To(Equal("application/json"), r.Name)
		}
	})
})

type errReader struct{ err error }

func (e errReader) Read([]byte) (int, error) { return 0, e.err }

func makeTar(name, content string) []byte {
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	Expect(tw.WriteHeader(&tar.Header{Name: name, Mode: 0o644, Size: int64(len(content))})).To(Succeed())
	_, err := tw.Write([]byte(content))
	Expect(err).NotTo(HaveOccurred())
	Expect(tw.Close()).To(Succeed())
	return buf.Bytes()
}
