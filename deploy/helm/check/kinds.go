// Package check holds the offline checks of the personfleet Helm chart
// (deploy/helm/personfleet): `helm lint` and `helm template` with every
// scenario of values, every rendered manifest decoded strictly into its
// Kubernetes API type, cross-references between the manifests, and the
// rendered environment and arguments run against the real binaries. It is
// a module of its own so k8s.io/api stays out of the product's graph; run
// it with `make chart-check`.
package check

import (
	"fmt"
	"strings"

	appsv1 "k8s.io/api/apps/v1"
	autoscalingv2 "k8s.io/api/autoscaling/v2"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	policyv1 "k8s.io/api/policy/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
	"sigs.k8s.io/yaml"
)

// ScaledObject is KEDA's keda.sh/v1alpha1 ScaledObject (a CRD: no Go API
// type is imported for it). Only the fields KEDA 2.x defines are here, so
// a misspelled one fails the strict decode.
type ScaledObject struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata"`
	Spec              ScaledObjectSpec `json:"spec"`
}

// ScaledObjectSpec is the spec of a ScaledObject.
type ScaledObjectSpec struct {
	ScaleTargetRef        *ScaleTarget    `json:"scaleTargetRef"`
	PollingInterval       *int32          `json:"pollingInterval,omitempty"`
	InitialCooldownPeriod *int32          `json:"initialCooldownPeriod,omitempty"`
	CooldownPeriod        *int32          `json:"cooldownPeriod,omitempty"`
	IdleReplicaCount      *int32          `json:"idleReplicaCount,omitempty"`
	MinReplicaCount       *int32          `json:"minReplicaCount,omitempty"`
	MaxReplicaCount       *int32          `json:"maxReplicaCount,omitempty"`
	Advanced              *AdvancedConfig `json:"advanced,omitempty"`
	Triggers              []ScaleTriggers `json:"triggers"`
	Fallback              *ScaledFallback `json:"fallback,omitempty"`
}

// ScaleTarget names the scaled workload.
type ScaleTarget struct {
	Name                   string `json:"name"`
	APIVersion             string `json:"apiVersion,omitempty"`
	Kind                   string `json:"kind,omitempty"`
	EnvSourceContainerName string `json:"envSourceContainerName,omitempty"`
}

// AdvancedConfig of a ScaledObject.
type AdvancedConfig struct {
	HorizontalPodAutoscalerConfig *HorizontalPodAutoscalerConfig `json:"horizontalPodAutoscalerConfig,omitempty"`
	RestoreToOriginalReplicaCount bool                           `json:"restoreToOriginalReplicaCount,omitempty"`
	ScalingModifiers              *ScalingModifiers              `json:"scalingModifiers,omitempty"`
}

// HorizontalPodAutoscalerConfig of the HPA KEDA creates.
type HorizontalPodAutoscalerConfig struct {
	Name     string                                         `json:"name,omitempty"`
	Behavior *autoscalingv2.HorizontalPodAutoscalerBehavior `json:"behavior,omitempty"`
}

// ScalingModifiers combine triggers with a formula.
type ScalingModifiers struct {
	Formula          string `json:"formula,omitempty"`
	Target           string `json:"target,omitempty"`
	ActivationTarget string `json:"activationTarget,omitempty"`
	MetricType       string `json:"metricType,omitempty"`
}

// ScaledFallback is the replica count used when the scaler fails.
type ScaledFallback struct {
	FailureThreshold int32  `json:"failureThreshold"`
	Replicas         int32  `json:"replicas"`
	Behavior         string `json:"behavior,omitempty"`
}

// ScaleTriggers is one trigger.
type ScaleTriggers struct {
	Type              string                         `json:"type"`
	Name              string                         `json:"name,omitempty"`
	UseCachedMetrics  bool                           `json:"useCachedMetrics,omitempty"`
	Metadata          map[string]string              `json:"metadata"`
	AuthenticationRef *AuthenticationRef             `json:"authenticationRef,omitempty"`
	MetricType        autoscalingv2.MetricTargetType `json:"metricType,omitempty"`
}

// AuthenticationRef points at a TriggerAuthentication.
type AuthenticationRef struct {
	Name string `json:"name"`
	Kind string `json:"kind,omitempty"`
}

// ServiceMonitor is the Prometheus Operator's monitoring.coreos.com/v1
// ServiceMonitor (a CRD), with the fields this chart may use.
type ServiceMonitor struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata"`
	Spec              ServiceMonitorSpec `json:"spec"`
}

// ServiceMonitorSpec is the spec of a ServiceMonitor.
type ServiceMonitorSpec struct {
	JobLabel          string               `json:"jobLabel,omitempty"`
	TargetLabels      []string             `json:"targetLabels,omitempty"`
	PodTargetLabels   []string             `json:"podTargetLabels,omitempty"`
	Endpoints         []Endpoint           `json:"endpoints"`
	Selector          metav1.LabelSelector `json:"selector"`
	NamespaceSelector NamespaceSelector    `json:"namespaceSelector,omitempty"`
	SampleLimit       *uint64              `json:"sampleLimit,omitempty"`
}

// Endpoint is one scraped port.
type Endpoint struct {
	Port              string              `json:"port,omitempty"`
	TargetPort        *intstr.IntOrString `json:"targetPort,omitempty"`
	Path              string              `json:"path,omitempty"`
	Scheme            string              `json:"scheme,omitempty"`
	Params            map[string][]string `json:"params,omitempty"`
	Interval          string              `json:"interval,omitempty"`
	ScrapeTimeout     string              `json:"scrapeTimeout,omitempty"`
	HonorLabels       bool                `json:"honorLabels,omitempty"`
	HonorTimestamps   *bool               `json:"honorTimestamps,omitempty"`
	Relabelings       []RelabelConfig     `json:"relabelings,omitempty"`
	MetricRelabelings []RelabelConfig     `json:"metricRelabelings,omitempty"`
}

// RelabelConfig is a Prometheus relabeling rule.
type RelabelConfig struct {
	SourceLabels []string `json:"sourceLabels,omitempty"`
	Separator    string   `json:"separator,omitempty"`
	TargetLabel  string   `json:"targetLabel,omitempty"`
	Regex        string   `json:"regex,omitempty"`
	Modulus      uint64   `json:"modulus,omitempty"`
	Replacement  string   `json:"replacement,omitempty"`
	Action       string   `json:"action,omitempty"`
}

// NamespaceSelector picks the namespaces of the selected Services.
type NamespaceSelector struct {
	Any        bool     `json:"any,omitempty"`
	MatchNames []string `json:"matchNames,omitempty"`
}

// Object is one decoded manifest.
type Object struct {
	Source string // the template it came from
	Kind   string
	Name   string
	Hook   string // helm.sh/hook annotation
	Value  any    // *appsv1.Deployment, *corev1.Service, …
}

// The kinds the chart may render, each with its only accepted apiVersion.
var decoders = map[string]struct {
	apiVersion string
	new        func() any
}{
	"Deployment":              {"apps/v1", func() any { return &appsv1.Deployment{} }},
	"Service":                 {"v1", func() any { return &corev1.Service{} }},
	"Secret":                  {"v1", func() any { return &corev1.Secret{} }},
	"ConfigMap":               {"v1", func() any { return &corev1.ConfigMap{} }},
	"ServiceAccount":          {"v1", func() any { return &corev1.ServiceAccount{} }},
	"PodDisruptionBudget":     {"policy/v1", func() any { return &policyv1.PodDisruptionBudget{} }},
	"HorizontalPodAutoscaler": {"autoscaling/v2", func() any { return &autoscalingv2.HorizontalPodAutoscaler{} }},
	"Job":                     {"batch/v1", func() any { return &batchv1.Job{} }},
	"ScaledObject":            {"keda.sh/v1alpha1", func() any { return &ScaledObject{} }},
	"ServiceMonitor":          {"monitoring.coreos.com/v1", func() any { return &ServiceMonitor{} }},
}

// Decode splits a multi-document YAML stream and decodes every document
// strictly (unknown or duplicate fields fail) into the type of its kind.
func Decode(stream string) ([]Object, error) {
	var objs []Object
	for _, doc := range splitDocuments(stream) {
		source := ""
		var body []string
		for _, line := range strings.Split(doc, "\n") {
			if s, ok := strings.CutPrefix(line, "# Source: "); ok {
				source = s
				continue
			}
			body = append(body, line)
		}
		text := strings.TrimSpace(strings.Join(body, "\n"))
		if text == "" {
			continue
		}
		var tm metav1.TypeMeta
		if err := yaml.Unmarshal([]byte(text), &tm); err != nil {
			return nil, fmt.Errorf("%s: %w", source, err)
		}
		d, ok := decoders[tm.Kind]
		if !ok {
			return nil, fmt.Errorf("%s: kind %q is not one the chart may render", source, tm.Kind)
		}
		if tm.APIVersion != d.apiVersion {
			return nil, fmt.Errorf("%s: %s has apiVersion %q, want %q", source, tm.Kind, tm.APIVersion, d.apiVersion)
		}
		v := d.new()
		if err := yaml.UnmarshalStrict([]byte(text), v); err != nil {
			return nil, fmt.Errorf("%s: %s: %w", source, tm.Kind, err)
		}
		meta := v.(metav1.Object)
		objs = append(objs, Object{
			Source: source, Kind: tm.Kind, Name: meta.GetName(),
			Hook: meta.GetAnnotations()["helm.sh/hook"], Value: v,
		})
	}
	return objs, nil
}

// splitDocuments splits at lines that are exactly "---".
func splitDocuments(stream string) []string {
	var docs []string
	var cur []string
	for _, line := range strings.Split(stream, "\n") {
		if strings.TrimRight(line, " ") == "---" {
			docs = append(docs, strings.Join(cur, "\n"))
			cur = nil
			continue
		}
		cur = append(cur, line)
	}
	return append(docs, strings.Join(cur, "\n"))
}
