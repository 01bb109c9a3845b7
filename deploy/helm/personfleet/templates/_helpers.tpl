{{/*
Names, labels and the pieces every worker shares.
*/}}

{{- define "personfleet.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{- define "personfleet.fullname" -}}
{{- if .Values.fullnameOverride -}}
{{- .Values.fullnameOverride | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- $name := default .Chart.Name .Values.nameOverride -}}
{{- if contains $name .Release.Name -}}
{{- .Release.Name | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- printf "%s-%s" .Release.Name $name | trunc 63 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}
{{- end -}}

{{- define "personfleet.chart" -}}
{{- printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{/* Labels of every resource. */}}
{{- define "personfleet.labels" -}}
helm.sh/chart: {{ include "personfleet.chart" . }}
app.kubernetes.io/name: {{ include "personfleet.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
app.kubernetes.io/part-of: personfleet
{{- with .Values.commonLabels }}
{{ toYaml . }}
{{- end }}
{{- end -}}

{{/* Selector labels of one worker: (dict "root" $ "w" $worker). */}}
{{- define "personfleet.selectorLabels" -}}
app.kubernetes.io/name: {{ include "personfleet.name" .root }}
app.kubernetes.io/instance: {{ .root.Release.Name }}
app.kubernetes.io/component: {{ .w.name }}
{{- end -}}

{{/* Labels of one worker's resources. */}}
{{- define "personfleet.workerLabels" -}}
{{ include "personfleet.labels" .root }}
app.kubernetes.io/component: {{ .w.name }}
{{- end -}}

{{/* Resource name of one worker. */}}
{{- define "personfleet.workerName" -}}
{{- printf "%s-%s" (include "personfleet.fullname" .root | trunc 48 | trimSuffix "-") .w.name -}}
{{- end -}}

{{- define "personfleet.serviceAccountName" -}}
{{- if .Values.serviceAccount.create -}}
{{- default (include "personfleet.fullname" .) .Values.serviceAccount.name -}}
{{- else -}}
{{- default "default" .Values.serviceAccount.name -}}
{{- end -}}
{{- end -}}

{{- define "personfleet.image" -}}
{{- if .Values.image.digest -}}
{{- printf "%s@%s" .Values.image.repository .Values.image.digest -}}
{{- else -}}
{{- printf "%s:%s" .Values.image.repository (default .Chart.AppVersion .Values.image.tag) -}}
{{- end -}}
{{- end -}}

{{/*
The workers: key in .Values, binary and consumer name, and the stream (by
kind) whose consumer KEDA watches.
*/}}
{{- define "personfleet.workers" -}}
- key: commandWorker
  name: command-worker
  consumer: command-worker
  stream: COMMANDS
- key: policyWorker
  name: policy-worker
  consumer: policy-worker
  stream: EVENTS
- key: projector
  name: projector
  consumer: projector
  stream: EVENTS
{{- end -}}

{{/* Stream name of a kind (COMMANDS, EVENTS, TIMERS): <PREFIX>_<KIND>. */}}
{{- define "personfleet.stream" -}}
{{- if and (eq .kind "EVENTS") .root.Values.eventsStream -}}
{{- .root.Values.eventsStream -}}
{{- else -}}
{{- printf "%s_%s" (upper .root.Values.prefix) .kind -}}
{{- end -}}
{{- end -}}

{{/* Name of the NATS credentials Secret ("" when none is used). */}}
{{- define "personfleet.natsSecretName" -}}
{{- $a := .Values.nats.auth -}}
{{- if ne $a.mode "none" -}}
{{- if $a.createSecret -}}
{{- printf "%s-nats" (include "personfleet.fullname" .) -}}
{{- else -}}
{{- $a.existingSecret -}}
{{- end -}}
{{- end -}}
{{- end -}}

{{/* Key of the credential in the Secret for the auth mode. */}}
{{- define "personfleet.natsSecretKey" -}}
{{- $a := .Values.nats.auth -}}
{{- if eq $a.mode "creds" -}}{{ $a.keys.creds }}
{{- else if eq $a.mode "userPassword" -}}{{ $a.keys.password }}
{{- else if eq $a.mode "token" -}}{{ $a.keys.token }}
{{- else if eq $a.mode "nkey" -}}{{ $a.keys.nkeySeed }}
{{- end -}}
{{- end -}}

{{/*
Checks that JSON Schema cannot express; they stop the render with a message.
*/}}
{{- define "personfleet.validate" -}}
{{- $a := .Values.nats.auth -}}
{{- if ne $a.mode "none" -}}
{{- if and (not $a.createSecret) (not $a.existingSecret) -}}
{{- fail (printf "nats.auth.mode %s needs nats.auth.existingSecret or nats.auth.createSecret=true" $a.mode) -}}
{{- end -}}
{{- if and $a.createSecret $a.existingSecret -}}
{{- fail "nats.auth: set existingSecret or createSecret, not both" -}}
{{- end -}}
{{- if $a.createSecret -}}
{{- $v := dict "creds" $a.creds "userPassword" $a.password "token" $a.token "nkey" $a.nkeySeed -}}
{{- if not (get $v $a.mode) -}}
{{- fail (printf "nats.auth.createSecret with mode %s needs its value (nats.auth.%s)" $a.mode (get (dict "creds" "creds" "userPassword" "password" "token" "token" "nkey" "nkeySeed") $a.mode)) -}}
{{- end -}}
{{- end -}}
{{- end -}}
{{- if and (eq $a.mode "userPassword") (not $a.user) -}}
{{- fail "nats.auth.mode userPassword needs nats.auth.user" -}}
{{- end -}}
{{- if and .Values.nats.tls.enabled (not .Values.nats.tls.secretName) -}}
{{- fail "nats.tls.enabled needs nats.tls.secretName" -}}
{{- end -}}
{{- if le (int .Values.terminationGracePeriodSeconds) (int .Values.closeTimeoutSeconds) -}}
{{- fail (printf "terminationGracePeriodSeconds (%d) must be longer than closeTimeoutSeconds (%d), or Kubernetes kills a worker while it drains" (int .Values.terminationGracePeriodSeconds) (int .Values.closeTimeoutSeconds)) -}}
{{- end -}}
{{- if and .Values.tracing.enabled (not .Values.tracing.endpoint) -}}
{{- fail "tracing.enabled needs tracing.endpoint (the OTLP collector, for example http://jaeger.observability.svc.cluster.local:4317)" -}}
{{- end -}}
{{- $c := .Values.consumer -}}
{{- if and .Values.provisioning.enabled (not .Values.provisioning.consumerFlags) -}}
{{- if or (ne (toString $c.ackWait) "30s") (ne (int64 $c.maxDeliver) 10) (ne (int64 $c.maxAckPending) 1024) -}}
{{- fail "consumer settings other than ackWait 30s, maxDeliver 10, maxAckPending 1024 need provisioning.consumerFlags=true (a personctl with --ack-wait, --max-deliver, --max-ack-pending) or provisioning.enabled=false (the workers provision their own consumers)" -}}
{{- end -}}
{{- end -}}
{{- if and (not .Values.provisioning.enabled) (ne (toString .Values.streams.dlqMaxAge) "720h") -}}
{{- fail "streams.dlqMaxAge is set by the provisioning Job only: keep provisioning.enabled=true to change it" -}}
{{- end -}}
{{- range $w := include "personfleet.workers" . | fromYamlArray -}}
{{- $v := index $.Values $w.key -}}
{{- if and $v.enabled $v.autoscaling.enabled (not $v.keda.enabled) -}}
{{- if not (and $v.resources $v.resources.requests $v.resources.requests.cpu) -}}
{{- fail (printf "%s.autoscaling needs %s.resources.requests.cpu (CPU utilization is a share of the request)" $w.key $w.key) -}}
{{- end -}}
{{- end -}}
{{- if and $v.enabled $v.keda.enabled $v.keda.cpuTrigger -}}
{{- if not (and $v.resources $v.resources.requests $v.resources.requests.cpu) -}}
{{- fail (printf "%s.keda.cpuTrigger needs %s.resources.requests.cpu" $w.key $w.key) -}}
{{- end -}}
{{- end -}}
{{- end -}}
{{- end -}}

{{/*
The connection environment every binary shares (workers and personctl):
PERSONFLEET_SERVER, PERSONFLEET_PREFIX, credentials and TLS files.
*/}}
{{- define "personfleet.natsEnv" -}}
- name: PERSONFLEET_SERVER
  value: {{ .Values.nats.url | quote }}
- name: PERSONFLEET_PREFIX
  value: {{ .Values.prefix | quote }}
{{- with .Values.eventsStream }}
- name: PERSONFLEET_EVENTS_STREAM
  value: {{ . | quote }}
{{- end }}
{{- $a := .Values.nats.auth }}
{{- $file := printf "/etc/personfleet/nats/%s" (include "personfleet.natsSecretKey" .) }}
{{- if eq $a.mode "creds" }}
- name: PERSONFLEET_CREDS
  value: {{ $file | quote }}
{{- else if eq $a.mode "userPassword" }}
- name: PERSONFLEET_USER
  value: {{ $a.user | quote }}
- name: PERSONFLEET_PASSWORD_FILE
  value: {{ $file | quote }}
{{- else if eq $a.mode "token" }}
- name: PERSONFLEET_TOKEN_FILE
  value: {{ $file | quote }}
{{- else if eq $a.mode "nkey" }}
- name: PERSONFLEET_NKEY
  value: {{ $file | quote }}
{{- end }}
{{- with .Values.nats.tls }}
{{- if .enabled }}
- name: PERSONFLEET_TLSCERT
  value: {{ printf "/etc/personfleet/tls/%s" .cert | quote }}
- name: PERSONFLEET_TLSKEY
  value: {{ printf "/etc/personfleet/tls/%s" .key | quote }}
{{- if .ca }}
- name: PERSONFLEET_TLSCA
  value: {{ printf "/etc/personfleet/tls/%s" .ca | quote }}
{{- end }}
{{- end }}
{{- end }}
{{- end -}}

{{/* Volumes of the credentials and TLS Secrets: (dict "root" $ "secret" name). */}}
{{- define "personfleet.natsVolumes" -}}
{{- $root := .root -}}
{{- $secret := .secret -}}
- name: tmp
  emptyDir:
    sizeLimit: 64Mi
{{- if $secret }}
- name: nats-auth
  secret:
    secretName: {{ $secret }}
    defaultMode: 0440
    items:
      - key: {{ include "personfleet.natsSecretKey" $root }}
        path: {{ include "personfleet.natsSecretKey" $root }}
{{- end }}
{{- with $root.Values.nats.tls }}
{{- if .enabled }}
- name: nats-tls
  secret:
    secretName: {{ .secretName }}
    defaultMode: 0440
{{- end }}
{{- end }}
{{- end -}}

{{- define "personfleet.natsVolumeMounts" -}}
- name: tmp
  mountPath: /tmp
{{- if include "personfleet.natsSecretName" . }}
- name: nats-auth
  mountPath: /etc/personfleet/nats
  readOnly: true
{{- end }}
{{- if .Values.nats.tls.enabled }}
- name: nats-tls
  mountPath: /etc/personfleet/tls
  readOnly: true
{{- end }}
{{- end -}}

{{/*
The settings every worker shares, as a map of environment variables (the
ConfigMap's data).
*/}}
{{- define "personfleet.workerConfig" -}}
PERSONFLEET_PROVISION: {{ not .Values.provisioning.enabled | toString | quote }}
PERSONFLEET_STREAM_REPLICAS: {{ int64 .Values.streams.replicas | toString | quote }}
PERSONFLEET_COMMANDS_DEDUP_WINDOW: {{ .Values.streams.commandsDedupWindow | toString | quote }}
PERSONFLEET_RESULTS_MAX_AGE: {{ .Values.streams.resultsMaxAge | toString | quote }}
PERSONFLEET_ACK_WAIT: {{ .Values.consumer.ackWait | toString | quote }}
PERSONFLEET_MAX_DELIVER: {{ int64 .Values.consumer.maxDeliver | toString | quote }}
PERSONFLEET_MAX_ACK_PENDING: {{ int64 .Values.consumer.maxAckPending | toString | quote }}
PERSONFLEET_RETRY_INITIAL: {{ .Values.retry.initial | toString | quote }}
PERSONFLEET_RETRY_MAX: {{ .Values.retry.max | toString | quote }}
PERSONFLEET_RETRY_MULTIPLIER: {{ .Values.retry.multiplier | toString | quote }}
PERSONFLEET_RETRY_MAX_RETRIES: {{ int64 .Values.retry.maxRetries | toString | quote }}
PERSONFLEET_CLOSE_TIMEOUT: {{ printf "%ds" (int64 .Values.closeTimeoutSeconds) | quote }}
PERSONFLEET_LOG_LEVEL: {{ .Values.log.level | quote }}
PERSONFLEET_LOG_FORMAT: {{ .Values.log.format | quote }}
PERSONFLEET_HTTP_ADDR: {{ printf ":%d" (int64 .Values.http.port) | quote }}
{{- if .Values.tracing.enabled }}
OTEL_EXPORTER_OTLP_ENDPOINT: {{ .Values.tracing.endpoint | quote }}
OTEL_EXPORTER_OTLP_PROTOCOL: {{ .Values.tracing.protocol | quote }}
OTEL_TRACES_SAMPLER: {{ .Values.tracing.sampler | quote }}
OTEL_TRACES_SAMPLER_ARG: {{ .Values.tracing.samplerArg | toString | quote }}
{{- end }}
{{- end -}}

{{/* OTEL_RESOURCE_ATTRIBUTES: the pod, its namespace, and the extra ones. */}}
{{- define "personfleet.resourceAttributes" -}}
{{- $attrs := list "k8s.pod.name=$(POD_NAME)" "k8s.namespace.name=$(POD_NAMESPACE)" (printf "service.namespace=%s" .Values.prefix) -}}
{{- range $k, $v := .Values.tracing.resourceAttributes -}}
{{- $attrs = append $attrs (printf "%s=%s" $k $v) -}}
{{- end -}}
{{- join "," $attrs -}}
{{- end -}}
