{{/* Chart name, overridable. */}}
{{- define "gatehouse.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{/* Full name: release-chart unless the release name already holds the chart name. */}}
{{- define "gatehouse.fullname" -}}
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

{{- define "gatehouse.selectorLabels" -}}
app.kubernetes.io/name: {{ include "gatehouse.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end -}}

{{- define "gatehouse.labels" -}}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{ include "gatehouse.selectorLabels" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
app.kubernetes.io/part-of: gatehouse
{{- end -}}

{{- define "gatehouse.serviceAccountName" -}}
{{- if .Values.serviceAccount.create -}}
{{- default (include "gatehouse.fullname" .) .Values.serviceAccount.name -}}
{{- else -}}
{{- default "default" .Values.serviceAccount.name -}}
{{- end -}}
{{- end -}}

{{- define "gatehouse.image" -}}
{{- if .Values.image.digest -}}
{{- printf "%s@%s" .Values.image.repository .Values.image.digest -}}
{{- else -}}
{{- printf "%s:%s" .Values.image.repository (default .Chart.AppVersion .Values.image.tag) -}}
{{- end -}}
{{- end -}}

{{/* RBAC rules: exactly the requests the Kubernetes source makes (list and watch; a merge patch of status). */}}
{{- define "gatehouse.watchRules" -}}
- apiGroups: ["gatehouse.dev"]
  resources: ["authpolicies"]
  verbs: ["list", "watch"]
- apiGroups: ["gatehouse.dev"]
  resources: ["authpolicies/status"]
  verbs: ["patch"]
- apiGroups: [""]
  resources: ["secrets"]
  verbs: ["list", "watch"]
{{- end -}}

{{- define "gatehouse.kubernetesSource" -}}
{{- if eq .Values.policySource "kubernetes" -}}true{{- end -}}
{{- end -}}

{{/* Each listener needs a port of its own; the schema cannot compare two values, so the template refuses. */}}
{{- define "gatehouse.checkPorts" -}}
{{- $ports := list (list "grpc.port" .Values.grpc.port) -}}
{{- if .Values.http.enabled -}}
{{- $ports = append $ports (list "http.port" .Values.http.port) -}}
{{- end -}}
{{- $ports = append $ports (list "admin.port" .Values.admin.port) -}}
{{- range $i, $a := $ports -}}
{{- range $j, $b := $ports -}}
{{- if and (lt $i $j) (eq (int (index $a 1)) (int (index $b 1))) -}}
{{- fail (printf "%s and %s must differ (both %d): each listener needs a port of its own" (index $a 0) (index $b 0) (int (index $a 1))) -}}
{{- end -}}
{{- end -}}
{{- end -}}
{{- end -}}

{{/* `--http-address` for serve: the HTTP forward-auth listener, or empty to turn it off. */}}
{{- define "gatehouse.httpAddress" -}}
{{- if .Values.http.enabled -}}0.0.0.0:{{ .Values.http.port }}{{- end -}}
{{- end -}}

{{/* A securityContext as YAML, without the keys set to null (how values drop a default, e.g. runAsUser on OpenShift). */}}
{{- define "gatehouse.withoutNulls" -}}
{{- $out := dict -}}
{{- range $key, $value := . -}}
{{- if not (kindIs "invalid" $value) -}}
{{- $_ := set $out $key $value -}}
{{- end -}}
{{- end -}}
{{- toYaml $out -}}
{{- end -}}
