{{/*
The chart name, overridable with nameOverride.
*/}}
{{- define "switchboard.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/*
The prefix of every resource name: fullnameOverride, or the release name when it already
contains the chart name, or <release>-<chart>. Truncated to 63 characters (a DNS label).
*/}}
{{- define "switchboard.fullname" -}}
{{- if .Values.fullnameOverride }}
{{- .Values.fullnameOverride | trunc 63 | trimSuffix "-" }}
{{- else }}
{{- $name := default .Chart.Name .Values.nameOverride }}
{{- if contains $name .Release.Name }}
{{- .Release.Name | trunc 63 | trimSuffix "-" }}
{{- else }}
{{- printf "%s-%s" .Release.Name $name | trunc 63 | trimSuffix "-" }}
{{- end }}
{{- end }}
{{- end }}

{{/*
Chart name and version, for the helm.sh/chart label.
*/}}
{{- define "switchboard.chart" -}}
{{- printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/*
Labels on every object of the release.
*/}}
{{- define "switchboard.labels" -}}
helm.sh/chart: {{ include "switchboard.chart" . }}
{{ include "switchboard.selectorLabels" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
app.kubernetes.io/part-of: switchboard
{{- end }}

{{/*
Labels that select the release's objects; never change them (a Deployment's selector is
immutable).
*/}}
{{- define "switchboard.selectorLabels" -}}
app.kubernetes.io/name: {{ include "switchboard.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end }}

{{/*
Selector labels of the manager pods.
*/}}
{{- define "switchboard.managerSelectorLabels" -}}
{{ include "switchboard.selectorLabels" . }}
app.kubernetes.io/component: manager
{{- end }}

{{/*
The manager's ServiceAccount name.
*/}}
{{- define "switchboard.serviceAccountName" -}}
{{- if .Values.serviceAccount.create }}
{{- default (include "switchboard.fullname" .) .Values.serviceAccount.name }}
{{- else }}
{{- default "default" .Values.serviceAccount.name }}
{{- end }}
{{- end }}

{{/*
Names of the manager's ClusterRole (generated from config/rbac/role.yaml) and of its
leader-election Role; the bindings use the same names.
*/}}
{{- define "switchboard.managerRoleName" -}}
{{- printf "%s-manager" (include "switchboard.fullname" .) | trunc 63 | trimSuffix "-" }}
{{- end }}

{{- define "switchboard.leaderElectionRoleName" -}}
{{- printf "%s-leader-election" (include "switchboard.fullname" .) | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/*
The manager image: repository:tag, the tag defaulting to the chart's appVersion.
*/}}
{{- define "switchboard.image" -}}
{{- printf "%s:%s" .Values.image.repository (.Values.image.tag | default .Chart.AppVersion) }}
{{- end }}

{{/*
The sender image: each empty sender.image field falls back to the manager's.
*/}}
{{- define "switchboard.senderImage" -}}
{{- $repo := .Values.sender.image.repository | default .Values.image.repository }}
{{- $tag := .Values.sender.image.tag | default .Values.image.tag | default .Chart.AppVersion }}
{{- printf "%s:%s" $repo $tag }}
{{- end }}

{{- define "switchboard.senderImagePullPolicy" -}}
{{- .Values.sender.image.pullPolicy | default .Values.image.pullPolicy }}
{{- end }}

{{/*
Labels of the sender and inbox pods that the manager declares (controllers/number_sender.go
and controllers/inbox_workload.go set them; app.kubernetes.io/component is sender or
inbox).
*/}}
{{- define "switchboard.workloadSelectorLabels" -}}
app.kubernetes.io/name: switchboard
app.kubernetes.io/managed-by: switchboard-manager
{{- end }}

{{/*
The namespaces of the senders and inboxes, as a JSON array: networkPolicy.workloadNamespaces,
else watchNamespaces (empty: all namespaces).
*/}}
{{- define "switchboard.workloadNamespaces" -}}
{{- .Values.networkPolicy.workloadNamespaces | default .Values.watchNamespaces | toJson }}
{{- end }}

{{/*
A NetworkPolicy ingress rule letting networkPolicy.metricsFrom reach a metrics port.
Takes a dict: from (peers), port.
*/}}
{{- define "switchboard.metricsIngress" -}}
- ports:
    - {port: {{ .port }}, protocol: TCP}
  {{- with .from }}
  from:
    {{- toYaml . | nindent 4 }}
  {{- end }}
{{- end }}

{{/*
NetworkPolicy egress rules of a Switchboard process: HTTPS to anywhere (Meta's Graph API;
it has no fixed addresses), the API server, DNS, and, when database is true, PostgreSQL.
Takes a dict: np (.Values.networkPolicy), database (bool).
*/}}
{{- define "switchboard.egress" -}}
- ports:
    - {port: 443, protocol: TCP}
- ports:
    {{- range .np.apiServer.ports }}
    - {port: {{ . }}, protocol: TCP}
    {{- end }}
  {{- with .np.apiServer.to }}
  to:
    {{- toYaml . | nindent 4 }}
  {{- end }}
{{- if .database }}
- ports:
    - {port: {{ .np.database.port }}, protocol: TCP}
  {{- with .np.database.to }}
  to:
    {{- toYaml . | nindent 4 }}
  {{- end }}
{{- end }}
{{- if .np.allowDNS }}
- ports:
    - {port: 53, protocol: UDP}
    - {port: 53, protocol: TCP}
{{- end }}
{{- end }}
