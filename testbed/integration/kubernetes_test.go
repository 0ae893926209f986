package integration

import (
	"bytes"
	"errors"
	"io"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"

	"go.yaml.in/yaml/v3"

	"github.com/irismirror/iris-mirror-agent/config"
	"github.com/irismirror/iris-mirror-agent/testbed/itest"
)

type k8sPort struct {
	Name          string `yaml:"name"`
	Port          int    `yaml:"port"`
	ContainerPort int    `yaml:"containerPort"`
	TargetPort    any    `yaml:"targetPort"`
}

type k8sProbe struct {
	HTTPGet *struct {
		Path string `yaml:"path"`
		Port any    `yaml:"port"`
	} `yaml:"httpGet"`
	PeriodSeconds    int `yaml:"periodSeconds"`
	FailureThreshold int `yaml:"failureThreshold"`
}

type k8sContainer struct {
	Name  string   `yaml:"name"`
	Image string   `yaml:"image"`
	Args  []string `yaml:"args"`
	Env   []struct {
		Name      string `yaml:"name"`
		Value     string `yaml:"value"`
		ValueFrom any    `yaml:"valueFrom"`
	} `yaml:"env"`
	Ports           []k8sPort `yaml:"ports"`
	ReadinessProbe  *k8sProbe `yaml:"readinessProbe"`
	LivenessProbe   *k8sProbe `yaml:"livenessProbe"`
	SecurityContext *struct {
		RunAsNonRoot             bool `yaml:"runAsNonRoot"`
		ReadOnlyRootFilesystem   bool `yaml:"readOnlyRootFilesystem"`
		AllowPrivilegeEscalation bool `yaml:"allowPrivilegeEscalation"`
	} `yaml:"securityContext"`
}

type k8sObject struct {
	Kind     string `yaml:"kind"`
	Metadata struct {
		Name string `yaml:"name"`
	} `yaml:"metadata"`
	Spec struct {
		// Service
		ClusterIP                string         `yaml:"clusterIP"`
		PublishNotReadyAddresses bool           `yaml:"publishNotReadyAddresses"`
		Selector                 map[string]any `yaml:"selector"`
		Ports                    []k8sPort      `yaml:"ports"`
		// StatefulSet
		ServiceName         string `yaml:"serviceName"`
		Replicas            int    `yaml:"replicas"`
		PodManagementPolicy string `yaml:"podManagementPolicy"`
		UpdateStrategy      struct {
			Type string `yaml:"type"`
		} `yaml:"updateStrategy"`
		Template struct {
			Metadata struct {
				Labels map[string]string `yaml:"labels"`
			} `yaml:"metadata"`
			Spec struct {
				Containers []k8sContainer `yaml:"containers"`
			} `yaml:"spec"`
		} `yaml:"template"`
	} `yaml:"spec"`
}

// TestKubernetesExample checks the StatefulSet with the agent sidecar: the
// pod is Ready only as primary (readiness /primary), the agent is live on
// /live, each Service selects the pods and targets ports that exist, the
// primary Service reaches only primary gates and the standby Service only
// standby gates, and the agent's settings are real.
func TestKubernetesExample(t *testing.T) {
	sts, services := kubernetesObjects(t, filepath.Join(itest.Root(t), "examples", "kubernetes", "mirror-ap1.yaml"))
	spec := sts.Spec
	if spec.PodManagementPolicy != "Parallel" {
		t.Error("podManagementPolicy must be Parallel: with readiness /primary a backup pod is never Ready, and OrderedReady would wait for it forever")
	}
	if spec.UpdateStrategy.Type != "OnDelete" {
		t.Error("updateStrategy must be OnDelete: a rolling update would wait forever for an updated backup to be Ready")
	}
	if spec.Replicas != 2 {
		t.Errorf("replicas %d, want 2 failover members", spec.Replicas)
	}
	labels := spec.Template.Metadata.Labels
	ports := map[string]int{} // container port name -> number
	portOwner := map[string]string{}
	var agent *k8sContainer
	for i, c := range spec.Template.Spec.Containers {
		for _, p := range c.Ports {
			ports[p.Name], portOwner[p.Name] = p.ContainerPort, c.Name
		}
		if strings.Contains(c.Image, "iris-mirror-agent") {
			agent = &spec.Template.Spec.Containers[i]
		}
	}
	if agent == nil {
		t.Fatal("no iris-mirror-agent sidecar in the pod")
	}

	// The agent's command and settings are real; find its HTTP port and
	// its standby gates.
	if len(agent.Args) == 0 || agent.Args[0] != "serve" {
		t.Fatalf("agent args %v should start with serve", agent.Args)
	}
	env := map[string]string{}
	for _, e := range agent.Env {
		v := e.Value
		if e.ValueFrom != nil {
			v = "from-kubernetes"
		}
		env[e.Name] = v
	}
	checkServeConfig(t, "agent sidecar", agent.Args[1:], env)
	cfg, err := config.LoadServe(nil, nil, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	_, httpPort, _ := net.SplitHostPort(cfg.HTTPListen)
	if v := env["MIRROR_AGENT_HTTP_LISTEN"]; v != "" {
		_, httpPort, _ = net.SplitHostPort(v)
	}
	gates, standbyGates := map[string]string{}, map[string]bool{} // listen -> target
	for _, a := range agent.Args {
		if v, ok := strings.CutPrefix(a, "--gate="); ok {
			listen, target, _ := strings.Cut(v, "=")
			gates[listen] = target
		}
	}
	for _, a := range agent.Args {
		if v, ok := strings.CutPrefix(a, "--gate-role="); ok {
			listen, role, _ := strings.Cut(v, "=")
			_, port, _ := net.SplitHostPort(listen)
			if _, ok := gates[listen]; !ok {
				t.Errorf("--gate-role %s names no --gate", listen)
			}
			if role == "standby" {
				standbyGates[port] = true
			}
		}
	}

	probePort := func(p *k8sProbe) string {
		switch v := p.HTTPGet.Port.(type) {
		case string:
			return strconv.Itoa(ports[v])
		case int:
			return strconv.Itoa(v)
		}
		return ""
	}
	if p := agent.ReadinessProbe; p == nil || p.HTTPGet == nil || p.HTTPGet.Path != "/primary" || probePort(p) != httpPort {
		t.Errorf("the agent's readiness probe must be GET /primary on its HTTP port %s: %+v", httpPort, p)
	} else if p.FailureThreshold != 1 || p.PeriodSeconds > 2 {
		t.Errorf("readiness should drop a demoted primary at its first failure, within seconds: period %d, failureThreshold %d", p.PeriodSeconds, p.FailureThreshold)
	}
	if p := agent.LivenessProbe; p == nil || p.HTTPGet == nil || p.HTTPGet.Path != "/live" || probePort(p) != httpPort {
		t.Errorf("the agent's liveness probe must be GET /live on %s (never /primary: a backup would be restarted)", httpPort)
	}
	if sc := agent.SecurityContext; sc == nil || !sc.RunAsNonRoot || !sc.ReadOnlyRootFilesystem || sc.AllowPrivilegeEscalation {
		t.Error("the agent needs runAsNonRoot, readOnlyRootFilesystem and no privilege escalation")
	}

	// Services: select the pods, target ports that exist.
	for name, s := range services {
		for k, v := range s.Spec.Selector {
			if labels[k] != v {
				t.Errorf("service %s selects %s=%v, which the pods do not carry", name, k, v)
			}
		}
		for _, p := range s.Spec.Ports {
			target, ok := p.TargetPort.(string)
			if !ok || ports[target] == 0 {
				t.Errorf("service %s port %s: targetPort %v is no named container port", name, p.Name, p.TargetPort)
			}
		}
	}
	if h := services[spec.ServiceName]; h == nil || h.Spec.ClusterIP != "None" || !h.Spec.PublishNotReadyAddresses {
		t.Errorf("serviceName %q must be a headless Service publishing not-ready members (mirror traffic flows whatever the role)", spec.ServiceName)
	}
	primary, standby := services["ap1-primary"], services["ap1-standby"]
	if primary == nil || primary.Spec.PublishNotReadyAddresses {
		t.Fatal("ap1-primary must exist and route only to Ready pods (the primary)")
	}
	// The primary Service goes through the agent's primary gates: readiness
	// steers, the gate refuses on a member that is not the primary (an
	// endpoint lags readiness), and each gate reaches an IRIS port.
	irisPorts := map[string]bool{}
	for name, owner := range portOwner {
		if owner != agent.Name {
			irisPorts[strconv.Itoa(ports[name])] = true
		}
	}
	for _, p := range primary.Spec.Ports {
		port := strconv.Itoa(ports[p.TargetPort.(string)])
		target, gated := gates[":"+port]
		_, targetPort, _ := net.SplitHostPort(target)
		if portOwner[p.TargetPort.(string)] != agent.Name || !gated || standbyGates[port] || !irisPorts[targetPort] {
			t.Errorf("ap1-primary port %s must target one of the agent's primary gates (--gate :PORT=127.0.0.1:IRIS_PORT), not %s", p.Name, port)
		}
	}
	if standby == nil || !standby.Spec.PublishNotReadyAddresses {
		t.Fatal("ap1-standby must exist and list every member (readiness is the primary's)")
	}
	for _, p := range standby.Spec.Ports {
		port := strconv.Itoa(ports[p.TargetPort.(string)])
		if portOwner[p.TargetPort.(string)] != agent.Name || !standbyGates[port] {
			t.Errorf("ap1-standby port %s must target one of the agent's standby gates (--gate-role LISTEN=standby), not %s", p.Name, port)
		}
	}
}

// TestKubernetesFencePatch applies the fence patch to the agent sidecar
// as a strategic merge patch does (env merged by name, securityContext
// fields replaced): the agent gains NET_ADMIN and nothing else, as root
// (Kubernetes gives added capabilities to root only), keeps no privilege
// escalation and a read-only root, its settings are real, and its own
// ports and the standby gates are not fenced.
func TestKubernetesFencePatch(t *testing.T) {
	root := filepath.Join(itest.Root(t), "examples", "kubernetes")
	read := func(name string) []byte {
		b, err := os.ReadFile(filepath.Join(root, name))
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	var sts k8sObject
	dec := yaml.NewDecoder(bytes.NewReader(read("mirror-ap1.yaml")))
	for sts.Kind != "StatefulSet" {
		sts = k8sObject{}
		if err := dec.Decode(&sts); err != nil {
			t.Fatalf("no StatefulSet: %v", err)
		}
	}
	var patch struct {
		Spec struct {
			Template struct {
				Spec struct {
					Containers []struct {
						Name string `yaml:"name"`
						Env  []struct {
							Name  string `yaml:"name"`
							Value string `yaml:"value"`
						} `yaml:"env"`
						SecurityContext struct {
							RunAsNonRoot             *bool `yaml:"runAsNonRoot"`
							RunAsUser                *int  `yaml:"runAsUser"`
							AllowPrivilegeEscalation *bool `yaml:"allowPrivilegeEscalation"`
							ReadOnlyRootFilesystem   *bool `yaml:"readOnlyRootFilesystem"`
							Capabilities             struct {
								Drop []string `yaml:"drop"`
								Add  []string `yaml:"add"`
							} `yaml:"capabilities"`
						} `yaml:"securityContext"`
					} `yaml:"containers"`
				} `yaml:"spec"`
			} `yaml:"template"`
		} `yaml:"spec"`
	}
	if err := yaml.Unmarshal(read("fence-patch.yaml"), &patch); err != nil {
		t.Fatal(err)
	}
	cs := patch.Spec.Template.Spec.Containers
	if len(cs) != 1 || cs[0].Name != "agent" {
		t.Fatalf("the patch should touch the agent container only: %+v", cs)
	}
	var base *k8sContainer
	for i, c := range sts.Spec.Template.Spec.Containers {
		if c.Name == "agent" {
			base = &sts.Spec.Template.Spec.Containers[i]
		}
	}
	if base == nil {
		t.Fatal("no container named agent in mirror-ap1.yaml")
	}
	env := map[string]string{}
	for _, e := range base.Env {
		env[e.Name] = e.Value
		if e.ValueFrom != nil {
			env[e.Name] = "from-kubernetes"
		}
	}
	for _, e := range cs[0].Env {
		env[e.Name] = e.Value
	}
	checkServeConfig(t, "agent sidecar with the fence", base.Args[1:], env)
	spec, err := config.ParseFence(strings.Split(env["MIRROR_AGENT_FENCE"], ","), nil)
	if err != nil || len(spec.Ports) == 0 {
		t.Fatalf("fence ports: %v %v", spec, err)
	}
	for _, p := range base.Ports {
		for _, f := range spec.Ports {
			if p.ContainerPort == int(f) {
				t.Errorf("the fence takes the agent's own port %s (%d)", p.Name, f)
			}
		}
	}
	sc := cs[0].SecurityContext
	if sc.RunAsUser == nil || *sc.RunAsUser != 0 || sc.RunAsNonRoot == nil || *sc.RunAsNonRoot {
		t.Error("the fenced agent must run as root: Kubernetes gives added capabilities to root only")
	}
	if !slices.Equal(sc.Capabilities.Drop, []string{"ALL"}) || !slices.Equal(sc.Capabilities.Add, []string{"NET_ADMIN"}) {
		t.Errorf("capabilities drop %v add %v; want every one dropped but NET_ADMIN", sc.Capabilities.Drop, sc.Capabilities.Add)
	}
	if sc.AllowPrivilegeEscalation != nil || sc.ReadOnlyRootFilesystem != nil {
		t.Error("the patch must leave the base's no-escalation and read-only root alone")
	}
	if b := base.SecurityContext; b == nil || b.AllowPrivilegeEscalation || !b.ReadOnlyRootFilesystem {
		t.Error("the base agent must forbid privilege escalation and keep a read-only root")
	}
}

// kubernetesObjects parses a manifest: its StatefulSet and its Services.
func kubernetesObjects(t *testing.T, path string) (*k8sObject, map[string]*k8sObject) {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var sts *k8sObject
	services := map[string]*k8sObject{}
	dec := yaml.NewDecoder(bytes.NewReader(b))
	for {
		var o k8sObject
		if err := dec.Decode(&o); errors.Is(err, io.EOF) {
			break
		} else if err != nil {
			t.Fatalf("parse: %v", err)
		}
		switch o.Kind {
		case "StatefulSet":
			sts = &o
		case "Service":
			services[o.Metadata.Name] = &o
		case "":
		default:
			t.Errorf("unexpected kind %s", o.Kind)
		}
	}
	if sts == nil {
		t.Fatal("no StatefulSet")
	}
	return sts, services
}

// kubernetesAgent is the iris-mirror-agent sidecar of a manifest's
// StatefulSet, whose args start with serve.
func kubernetesAgent(t *testing.T, path string) k8sContainer {
	t.Helper()
	sts, _ := kubernetesObjects(t, path)
	for _, c := range sts.Spec.Template.Spec.Containers {
		if strings.Contains(c.Image, "iris-mirror-agent") {
			if len(c.Args) == 0 || c.Args[0] != "serve" {
				t.Fatalf("agent args %v should start with serve", c.Args)
			}
			return c
		}
	}
	t.Fatal("no iris-mirror-agent sidecar in the pod")
	return k8sContainer{}
}
