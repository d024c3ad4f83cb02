package models_test

import (
	"encoding/json"
	"testing"

	"diego/models"

	"google.golang.org/protobuf/proto"
)

// Decoding untrusted bytes must never panic, whatever the input: the BBS and
// the receptor decode these from the network. Run with, for example:
//
//	go test ./models -run '^$' -fuzz FuzzTaskProto -fuzztime 60s
//
// Without -fuzz, `go test` runs the seeds below as ordinary tests.

func seedTask() *models.Task {
	return &models.Task{TaskGuid: "t", Domain: "d", TaskDefinition: &models.TaskDefinition{
		RootFs: "preloaded:x", Action: models.WrapAction(&models.SerialAction{Actions: []*models.Action{
			models.WrapAction(&models.DownloadAction{From: "http://a", To: "/b", User: "vcap"}),
			models.WrapAction(&models.RunAction{Path: "/bin/sh", User: "vcap", ResourceLimits: &models.ResourceLimits{Nofile: proto.Uint64(10)}}),
		}}),
		EgressRules: []*models.SecurityGroupRule{{Protocol: "tcp", Destinations: []string{"0.0.0.0/0"}, Ports: []uint32{80}}},
	}}
}

func seedDesiredLRP() *models.DesiredLRP {
	return &models.DesiredLRP{ProcessGuid: "p", Domain: "d", RootFs: "docker:///x", Instances: 2, Ports: []uint32{8080},
		Action:     models.WrapAction(&models.RunAction{Path: "/x", User: "vcap"}),
		Monitor:    models.WrapAction(&models.TimeoutAction{TimeoutMs: 1000, Action: models.WrapAction(&models.RunAction{Path: "/hc", User: "vcap"})}),
		Routes:     &models.ProtoRoutes{Routes: map[string][]byte{"cf-router": []byte(`[{"hostnames":["a"],"port":8080}]`)}},
		MetricTags: map[string]*models.MetricTagValue{"source_id": {Static: "s"}},
	}
}

// exercise runs what a server does with a decoded model.
func exercise(m interface {
	proto.Message
	Validate() error
}) {
	_ = m.Validate()
	_, _ = json.Marshal(m)
	_, _ = proto.Marshal(m)
}

func addProtoSeeds(f *testing.F, m proto.Message) {
	b, err := proto.Marshal(m)
	if err != nil {
		f.Fatal(err)
	}
	f.Add(b)
	f.Add([]byte{})
	f.Add([]byte{0x0a, 0xff})
}

func addJSONSeeds(f *testing.F, m proto.Message) {
	b, err := json.Marshal(m)
	if err != nil {
		f.Fatal(err)
	}
	f.Add(b)
	f.Add([]byte(`{}`))
	f.Add([]byte(`{"action":{"run":null,"timeout":{"action":{}}}}`))
	f.Add([]byte(`null`))
}

func FuzzTaskProto(f *testing.F) {
	addProtoSeeds(f, seedTask())
	f.Fuzz(func(t *testing.T, b []byte) {
		var m models.Task
		if proto.Unmarshal(b, &m) == nil {
			exercise(&m)
		}
	})
}

func FuzzTaskJSON(f *testing.F) {
	addJSONSeeds(f, seedTask())
	f.Fuzz(func(t *testing.T, b []byte) {
		var m models.Task
		if json.Unmarshal(b, &m) == nil {
			exercise(&m)
		}
	})
}

func FuzzDesiredLRPProto(f *testing.F) {
	addProtoSeeds(f, seedDesiredLRP())
	f.Fuzz(func(t *testing.T, b []byte) {
		var m models.DesiredLRP
		if proto.Unmarshal(b, &m) == nil {
			exercise(&m)
		}
	})
}

func FuzzDesiredLRPJSON(f *testing.F) {
	addJSONSeeds(f, seedDesiredLRP())
	f.Fuzz(func(t *testing.T, b []byte) {
		var m models.DesiredLRP
		if json.Unmarshal(b, &m) == nil {
			exercise(&m)
		}
	})
}
