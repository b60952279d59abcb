package main

import (
	"bytes"
	"context"
	"errors"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/sie-project/sie/cluster"
)

// manifest is the part of a Kubernetes object the test reads.
type manifest struct {
	APIVersion string `yaml:"apiVersion"`
	Kind       string `yaml:"kind"`
	Metadata   struct {
		Name   string            `yaml:"name"`
		Labels map[string]string `yaml:"labels"`
	} `yaml:"metadata"`
	Spec struct {
		Selector       yaml.Node `yaml:"selector"`
		ScaleTargetRef struct {
			Name string `yaml:"name"`
		} `yaml:"scaleTargetRef"`
		Triggers []struct {
			Type     string            `yaml:"type"`
			Metadata map[string]string `yaml:"metadata"`
		} `yaml:"triggers"`
		Ports []struct {
			Name       string `yaml:"name"`
			Port       int    `yaml:"port"`
			TargetPort string `yaml:"targetPort"`
		} `yaml:"ports"`
		Template struct {
			Metadata struct {
				Labels map[string]string `yaml:"labels"`
			} `yaml:"metadata"`
			Spec struct {
				TerminationGracePeriodSeconds int `yaml:"terminationGracePeriodSeconds"`
				Containers                    []struct {
					Args  []string `yaml:"args"`
					Ports []struct {
						Name string `yaml:"name"`
					} `yaml:"ports"`
					ReadinessProbe struct {
						HTTPGet struct {
							Path string `yaml:"path"`
						} `yaml:"httpGet"`
					} `yaml:"readinessProbe"`
				} `yaml:"containers"`
			} `yaml:"spec"`
		} `yaml:"template"`
	} `yaml:"spec"`
}

func readManifests(t *testing.T) []manifest {
	t.Helper()
	files, err := filepath.Glob(filepath.Join("..", "..", "..", "deploy", "k8s", "*.yaml"))
	if err != nil || len(files) == 0 {
		t.Fatalf("no manifests under deploy/k8s (%v)", err)
	}
	var out []manifest
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		dec := yaml.NewDecoder(bytes.NewReader(data))
		for {
			var m manifest
			err := dec.Decode(&m)
			if errors.Is(err, io.EOF) {
				break
			}
			if err != nil {
				t.Fatalf("%s: %v", f, err)
			}
			out = append(out, m)
		}
	}
	return out
}

// flagsOf lists the flags a sie-cluster command accepts, from its help.
func flagsOf(t *testing.T, cmd string) map[string]bool {
	var stderr bytes.Buffer
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	_ = run(ctx, []string{cmd, "-h"}, io.Discard, &stderr)
	flags := map[string]bool{}
	for _, m := range regexp.MustCompile(`(?m)^\s+-([a-z-]+)`).FindAllStringSubmatch(stderr.String(), -1) {
		flags[m[1]] = true
	}
	if len(flags) == 0 {
		t.Fatalf("sie-cluster %s -h lists no flags:\n%s", cmd, stderr.String())
	}
	return flags
}

// argValues parses --name=value arguments.
func argValues(t *testing.T, args []string, known map[string]bool) (cmd string, vals map[string]string) {
	vals = map[string]string{}
	for i, a := range args {
		if i == 0 {
			cmd = a
			continue
		}
		name, val, ok := strings.Cut(strings.TrimPrefix(a, "--"), "=")
		if !ok || !strings.HasPrefix(a, "--") {
			t.Errorf("argument %q: want --name=value", a)
			continue
		}
		if !known[name] {
			t.Errorf("argument %q: sie-cluster %s has no flag %q", a, cmd, name)
		}
		vals[name] = val
	}
	return cmd, vals
}

// TestManifests parses deploy/k8s and checks that the pieces fit together:
// the commands and flags exist, the KEDA trigger reads the stream and
// consumer the workers of its Deployment's lane use, the Service reaches the
// gateway, and workers get time to drain.
func TestManifests(t *testing.T) {
	ms := readManifests(t)
	byKind := map[string][]manifest{}
	for _, m := range ms {
		byKind[m.Kind] = append(byKind[m.Kind], m)
	}
	workerFlags, gatewayFlags := flagsOf(t, "worker"), flagsOf(t, "gateway")
	lanes := map[string]cluster.Lane{}  // worker Deployment → its lane
	var gatewayLabels map[string]string // pod labels of the gateway
	var gatewayPort string
	for _, d := range byKind["Deployment"] {
		if d.APIVersion != "apps/v1" || len(d.Spec.Template.Spec.Containers) != 1 {
			t.Errorf("Deployment %s: apiVersion %q, %d containers", d.Metadata.Name, d.APIVersion, len(d.Spec.Template.Spec.Containers))
			continue
		}
		c := d.Spec.Template.Spec.Containers[0]
		switch c.Args[0] {
		case "worker":
			_, v := argValues(t, c.Args, workerFlags)
			lanes[d.Metadata.Name] = cluster.Lane{Pool: v["pool"], Profile: v["profile"], Bundle: v["bundle"]}
			ack, err := time.ParseDuration(v["ack-wait"])
			if err != nil {
				t.Errorf("worker %s: --ack-wait %q: %v", d.Metadata.Name, v["ack-wait"], err)
			}
			if grace := time.Duration(d.Spec.Template.Spec.TerminationGracePeriodSeconds) * time.Second; grace <= ack/2 {
				t.Errorf("worker %s: terminationGracePeriodSeconds %s leaves no time to drain (half the ack wait is %s)", d.Metadata.Name, grace, ack/2)
			}
		case "gateway":
			_, v := argValues(t, c.Args, gatewayFlags)
			if v["nats"] == "" || !strings.HasPrefix(v["addr"], "0.0.0.0:") {
				t.Errorf("gateway %s: --nats %q, --addr %q (must listen on all interfaces in a pod)", d.Metadata.Name, v["nats"], v["addr"])
			}
			if c.ReadinessProbe.HTTPGet.Path != "/readyz" {
				t.Errorf("gateway %s: readiness probe %q, want /readyz", d.Metadata.Name, c.ReadinessProbe.HTTPGet.Path)
			}
			gatewayLabels = d.Spec.Template.Metadata.Labels
			if len(c.Ports) == 1 {
				gatewayPort = c.Ports[0].Name
			}
		default:
			t.Errorf("Deployment %s runs %q, not a sie-cluster command", d.Metadata.Name, c.Args[0])
		}
	}
	if len(lanes) == 0 || gatewayLabels == nil {
		t.Fatalf("want a worker and a gateway Deployment, have %d workers, gateway %v", len(lanes), gatewayLabels != nil)
	}

	scaled := map[string]bool{}
	for _, so := range byKind["ScaledObject"] {
		lane, ok := lanes[so.Spec.ScaleTargetRef.Name]
		if !ok {
			t.Errorf("ScaledObject %s scales %q, which is no worker Deployment", so.Metadata.Name, so.Spec.ScaleTargetRef.Name)
			continue
		}
		scaled[so.Spec.ScaleTargetRef.Name] = true
		if len(so.Spec.Triggers) != 1 || so.Spec.Triggers[0].Type != "nats-jetstream" {
			t.Errorf("ScaledObject %s: want one nats-jetstream trigger", so.Metadata.Name)
			continue
		}
		md := so.Spec.Triggers[0].Metadata
		if md["stream"] != cluster.StreamName(lane.Pool) || md["consumer"] != cluster.ConsumerName(lane) {
			t.Errorf("ScaledObject %s reads %s/%s; its workers use stream %s, consumer %s", so.Metadata.Name,
				md["stream"], md["consumer"], cluster.StreamName(lane.Pool), cluster.ConsumerName(lane))
		}
		for _, k := range []string{"natsServerMonitoringEndpoint", "account", "lagThreshold"} {
			if md[k] == "" {
				t.Errorf("ScaledObject %s: trigger has no %s", so.Metadata.Name, k)
			}
		}
	}
	for name := range lanes {
		if !scaled[name] {
			t.Errorf("worker Deployment %s has no ScaledObject", name)
		}
	}

	if len(byKind["Service"]) != 1 {
		t.Fatalf("want one Service, have %d", len(byKind["Service"]))
	}
	svc := byKind["Service"][0]
	var sel map[string]string
	if err := svc.Spec.Selector.Decode(&sel); err != nil || len(sel) == 0 {
		t.Fatalf("Service %s: selector %v (%v)", svc.Metadata.Name, sel, err)
	}
	for k, v := range sel {
		if gatewayLabels[k] != v {
			t.Errorf("Service %s selects %s=%s, which the gateway pods do not carry", svc.Metadata.Name, k, v)
		}
	}
	if len(svc.Spec.Ports) != 1 || svc.Spec.Ports[0].TargetPort != gatewayPort {
		t.Errorf("Service %s targets port %+v, the gateway's port is named %q", svc.Metadata.Name, svc.Spec.Ports, gatewayPort)
	}
}
