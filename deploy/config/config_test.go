package config_test

import (
	"encoding/json"
	"os"
	"path/filepath"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"diego/deploy/config"
)

// daemonConfig is shaped like a daemon's Config: defaults first, then Load.
type daemonConfig struct {
	ListenAddr  string          `json:"listen_addr"`
	LockTTL     config.Duration `json:"lock_ttl"`
	LogLevel    string          `json:"log_level"`
	MaxInFlight int             `json:"max_in_flight"`
}

func defaultConfig() daemonConfig {
	return daemonConfig{
		ListenAddr:  "127.0.0.1:8889",
		LockTTL:     config.Duration(15 * time.Second),
		LogLevel:    "info",
		MaxInFlight: 10,
	}
}

func (c *daemonConfig) Validate() error {
	var v config.Validator
	v.Require(c.ListenAddr != "", "listen_addr is required")
	v.Require(c.LockTTL > 0, "lock_ttl must be positive, got %s", c.LockTTL)
	v.Require(c.MaxInFlight > 0, "max_in_flight must be positive, got %d", c.MaxInFlight)
	return v.Err()
}

var _ = Describe("Duration", func() {
	It("round-trips as a duration string", func() {
		b, err := json.Marshal(config.Duration(90 * time.Second))
		Expect(err).NotTo(HaveOccurred())
		Expect(string(b)).To(Equal(`"1m30s"`))

		var d config.Duration
		Expect(json.Unmarshal(b, &d)).To(Succeed())
		Expect(d.Duration()).To(Equal(90 * time.Second))
	})

	It("rejects numbers and strings that are not durations", func() {
		var d config.Duration
		var typeErr *json.UnmarshalTypeError
		Expect(json.Unmarshal([]byte(`5`), &d)).To(BeAssignableToTypeOf(typeErr))
		Expect(json.Unmarshal([]byte(`"5 parsecs"`), &d)).To(BeAssignableToTypeOf(typeErr))
	})

	It("leaves the value unchanged for null", func() {
		d := config.Duration(time.Second)
		Expect(json.Unmarshal([]byte(`null`), &d)).To(Succeed())
		Expect(d.Duration()).To(Equal(time.Second))
	})
})

var _ = Describe("Load", func() {
	var path string

	write := func(contents string) {
		Expect(os.WriteFile(path, []byte(contents), 0o600)).To(Succeed())
	}

	BeforeEach(func() {
		path = filepath.Join(GinkgoT().TempDir(), "daemon.json")
	})

	It("overrides only the keys present, keeping the defaults", func() {
		write(`{"listen_addr": "0.0.0.0:9000", "lock_ttl": "1m"}`)

		cfg := defaultConfig()
		Expect(config.Load(path, &cfg)).To(Succeed())
		Expect(cfg.ListenAddr).To(Equal("0.0.0.0:9000"))
		Expect(cfg.LockTTL.Duration()).To(Equal(time.Minute))
		Expect(cfg.LogLevel).To(Equal("info"))
		Expect(cfg.MaxInFlight).To(Equal(10))
	})

	It("rejects an unknown key, naming it and the file", func() {
		write(`{"listen_adr": "0.0.0.0:9000"}`)

		cfg := defaultConfig()
		err := config.Load(path, &cfg)
		Expect(err).To(MatchError(ContainSubstring("loading config " + path)))
		Expect(err).To(MatchError(ContainSubstring(`"listen_adr"`)))
	})

	It("rejects a number as a duration, naming the key and saying what to write", func() {
		write(`{"lock_ttl": 15}`)

		cfg := defaultConfig()
		Expect(config.Load(path, &cfg)).To(MatchError(
			"loading config " + path + `: lock_ttl: invalid duration 15: use a string like "5s"`))
	})

	It("rejects a string that is not a duration", func() {
		write(`{"lock_ttl": "5 parsecs"}`)

		cfg := defaultConfig()
		Expect(config.Load(path, &cfg)).To(MatchError(ContainSubstring(
			`lock_ttl: invalid duration "5 parsecs": use a string like "5s"`)))
	})

	It("rejects trailing data after the object", func() {
		write(`{} {}`)

		cfg := defaultConfig()
		Expect(config.Load(path, &cfg)).To(MatchError(ContainSubstring("unexpected data")))
	})

	It("wraps a missing file with its path", func() {
		cfg := defaultConfig()
		err := config.Load(filepath.Join(filepath.Dir(path), "missing.json"), &cfg)
		Expect(err).To(MatchError(os.ErrNotExist))
		Expect(err).To(MatchError(ContainSubstring("loading config ")))
	})

	It("validates, reporting every problem at once", func() {
		write(`{"listen_addr": "", "lock_ttl": "0s", "max_in_flight": -1}`)

		cfg := defaultConfig()
		err := config.Load(path, &cfg)
		Expect(err).To(MatchError("loading config " + path + ": " +
			"listen_addr is required; lock_ttl must be positive, got 0s; max_in_flight must be positive, got -1"))
	})
})

var _ = Describe("Validator", func() {
	It("is nil when every requirement holds", func() {
		var v config.Validator
		v.Require(true, "never reported")
		Expect(v.Err()).To(Succeed())
	})
})

var _ = Describe("Validator's shared checks", func() {
	It("checks host:port, optional or not", func() {
		var v config.Validator
		v.HostPort("listen_addr", "127.0.0.1:80", false)
		v.HostPort("debug_address", "", true)
		Expect(v.Err()).To(Succeed())
		v.HostPort("listen_addr", "nope", false)
		v.HostPort("debug_address", "", false)
		Expect(v.Err()).To(MatchError(`listen_addr "nope" is not host:port; debug_address "" is not host:port`))
	})

	It("names every non-positive duration, in key order", func() {
		var v config.Validator
		v.Positive(map[string]config.Duration{"b": 0, "a": -1, "c": config.Duration(time.Second)})
		Expect(v.Err()).To(MatchError("a must be positive; b must be positive"))
	})

	It("checks the BBS-client and etcd blocks and root", func() {
		var v config.Validator
		v.BBSClient(config.BBSClient{BBSAddress: "http://bbs:8889"})
		v.ETCD(config.ETCD{Endpoints: []string{"http://etcd:2379"}}, "/diego")
		v.ETCD(config.ETCD{Endpoints: []string{"https://etcd:2379"}, CAFile: "ca", CertFile: "c", KeyFile: "k"}, "/diego")
		v.Common(config.Common{LogLevel: "debug", DebugAddress: "127.0.0.1:17017"})
		Expect(v.Err()).To(Succeed())
		v.BBSClient(config.BBSClient{BBSAddress: "https://bbs:8889", BBSClientCertFile: "cert"})
		v.ETCD(config.ETCD{CertFile: "cert"}, "diego")
		v.ETCD(config.ETCD{Endpoints: []string{"http://etcd:2379", "etcd:2379"}, CAFile: "ca"}, "/diego")
		v.Common(config.Common{LogLevel: "loud", DebugAddress: "nope"})
		err := v.Err()
		for _, want := range []string{"an https bbs_address needs", "bbs_client_cert_file and bbs_client_key_file go together",
			"etcd.endpoints must list", "etcd.cert_file and etcd.key_file go together", `root "diego" must start with /`,
			`etcd.endpoints entry "http://etcd:2379" must be https:// when the etcd block has TLS files`,
			`etcd.endpoints entry "etcd:2379" must be a URL`, "log_level:", `debug_address "nope" is not host:port`} {
			Expect(err.Error()).To(ContainSubstring(want))
		}
	})

	It("checks the receptor and CC client blocks' URLs", func() {
		var v config.Validator
		v.ReceptorClient(config.ReceptorClient{ReceptorURL: "http://receptor:8887"})
		v.CCClient(config.CCClient{CCBaseURL: "https://cc:9022", CCBasicAuthUsername: "u"})
		Expect(v.Err()).To(Succeed())
		v.ReceptorClient(config.ReceptorClient{ReceptorURL: "receptor:8887"})
		v.CCClient(config.CCClient{})
		Expect(v.Err()).To(MatchError(`receptor_url "receptor:8887" must start with http:// or https://; ` +
			`cc_base_url "" must start with http:// or https://`))
	})

	It("checks the lock block: etcd, root and a positive TTL and retry interval", func() {
		var v config.Validator
		v.Lock(config.DefaultLock())
		Expect(v.Err()).To(Succeed())
		v.Lock(config.Lock{ETCD: config.ETCD{Endpoints: []string{"http://etcd:2379"}}, Root: "diego", LockRetryInterval: -1})
		Expect(v.Err()).To(MatchError(`root "diego" must start with /; lock_retry_interval must be positive; lock_ttl must be positive`))
	})
})

// lockHolderConfig embeds the shared blocks the way the daemons do.
type lockHolderConfig struct {
	config.Common
	config.BBSClient
	config.Lock
	config.ReceptorClient
	config.CCClient
}

var _ = Describe("the shared blocks", func() {
	load := func(body string) (lockHolderConfig, error) {
		path := filepath.Join(GinkgoT().TempDir(), "config.json")
		Expect(os.WriteFile(path, []byte(body), 0o644)).To(Succeed())
		cfg := lockHolderConfig{Common: config.Common{LogLevel: "info"}, Lock: config.DefaultLock()}
		err := config.Load(path, &cfg)
		return cfg, err
	}

	It("reads the etcd object, the flat bbs_* keys and the common keys", func() {
		cfg, err := load(`{"log_level": "debug", "debug_address": "127.0.0.1:17017",
			"bbs_address": "https://bbs:8889", "bbs_ca_cert_file": "ca", "bbs_client_cert_file": "c", "bbs_client_key_file": "k",
			"etcd": {"endpoints": ["https://e1:2379"], "ca_file": "eca", "cert_file": "ec", "key_file": "ek"}, "root": "/cf",
			"lock_ttl": "9s"}`)
		Expect(err).NotTo(HaveOccurred())
		Expect(cfg.Settings()).To(Equal(config.Common{LogLevel: "debug", DebugAddress: "127.0.0.1:17017"}))
		Expect(cfg.BBSClient).To(Equal(config.BBSClient{BBSAddress: "https://bbs:8889", BBSCACertFile: "ca",
			BBSClientCertFile: "c", BBSClientKeyFile: "k"}))
		Expect(cfg.ETCD).To(Equal(config.ETCD{Endpoints: []string{"https://e1:2379"}, CAFile: "eca", CertFile: "ec", KeyFile: "ek"}))
		Expect(cfg.ETCD.TLS()).To(BeTrue())
		Expect(cfg.Lock).To(Equal(config.Lock{ETCD: cfg.ETCD, Root: "/cf",
			LockTTL: config.Duration(9 * time.Second), LockRetryInterval: config.Duration(5 * time.Second)}))
	})

	It("reads the receptor and CC client blocks' flat keys", func() {
		cfg, err := load(`{"receptor_url": "http://r:8887", "receptor_username": "ru", "receptor_password": "rp",
			"cc_base_url": "http://cc:9022", "cc_basic_auth_username": "cu", "cc_basic_auth_password": "cp"}`)
		Expect(err).NotTo(HaveOccurred())
		Expect(cfg.ReceptorClient).To(Equal(config.ReceptorClient{ReceptorURL: "http://r:8887", ReceptorUsername: "ru", ReceptorPassword: "rp"}))
		Expect(cfg.CCClient).To(Equal(config.CCClient{CCBaseURL: "http://cc:9022", CCBasicAuthUsername: "cu", CCBasicAuthPassword: "cp"}))
	})

	It("writes the lock block's keys at the top level, as the daemons' files have them", func() {
		body, err := json.Marshal(lockHolderConfig{Lock: config.DefaultLock()})
		Expect(err).NotTo(HaveOccurred())
		var top map[string]json.RawMessage
		Expect(json.Unmarshal(body, &top)).To(Succeed())
		Expect(top).To(HaveKey("etcd"))
		Expect(top).To(HaveKeyWithValue("root", json.RawMessage(`"/diego"`)))
		Expect(top).To(HaveKeyWithValue("lock_ttl", json.RawMessage(`"15s"`)))
		Expect(top).To(HaveKeyWithValue("lock_retry_interval", json.RawMessage(`"5s"`)))
	})

	It("refuses the old flat etcd_* keys, naming the new ones", func() {
		_, err := load(`{"etcd_endpoints": ["http://e1:2379"], "etcd_ca_file": "a", "etcd_cert_file": "b", "etcd_key_file": "c"}`)
		Expect(err).To(MatchError(ContainSubstring("etcd_ca_file is no longer a key: use etcd.ca_file; " +
			"etcd_cert_file is no longer a key: use etcd.cert_file; etcd_endpoints is no longer a key: use etcd.endpoints; " +
			"etcd_key_file is no longer a key: use etcd.key_file")))
	})
})
