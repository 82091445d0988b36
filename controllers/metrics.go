package controllers

import (
	"github.com/prometheus/client_golang/prometheus"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/metrics"

	sbv1 "github.com/switchboard-dev/switchboard/api/v1alpha1"
	"github.com/switchboard-dev/switchboard/runtime/limits"
)

// Per-Number series, labelled by the Number's namespace and name (never a phone number),
// and deleted when the Number is deleted.
var (
	numberLabels  = []string{"namespace", "number"}
	numberQuality = prometheus.NewGaugeVec(prometheus.GaugeOpts{
		Name: "switchboard_number_quality_rating",
		Help: "Quality rating Meta reports for the number: 3 GREEN, 2 YELLOW, 1 RED, 0 unknown.",
	}, numberLabels)
	numberRate = prometheus.NewGaugeVec(prometheus.GaugeOpts{
		Name: "switchboard_number_effective_messages_per_second",
		Help: "Effective outbound rate of the number (both lanes).",
	}, numberLabels)
	numberCampaignRate = prometheus.NewGaugeVec(prometheus.GaugeOpts{
		Name: "switchboard_number_effective_campaign_per_minute",
		Help: "Effective business-initiated (campaign lane) rate of the number.",
	}, numberLabels)
	numberThrottled = prometheus.NewGaugeVec(prometheus.GaugeOpts{
		Name: "switchboard_number_throttled",
		Help: "1 when the number's limits are below nominal (warm-up, low quality, restriction, pause).",
	}, numberLabels)
	numberSeries = []*prometheus.GaugeVec{numberQuality, numberRate, numberCampaignRate, numberThrottled}
)

func init() {
	for _, g := range numberSeries {
		metrics.Registry.MustRegister(g)
	}
}

func recordNumberMetrics(num *sbv1.Number, lim limits.Limits) {
	rating := ""
	if num.Status.Quality != nil {
		rating = num.Status.Quality.Rating
	}
	throttled := 0.0
	if lim.Throttled() {
		throttled = 1
	}
	numberQuality.WithLabelValues(num.Namespace, num.Name).Set(float64(qualityRank(rating)))
	numberRate.WithLabelValues(num.Namespace, num.Name).Set(float64(lim.MessagesPerSecond))
	numberCampaignRate.WithLabelValues(num.Namespace, num.Name).Set(float64(lim.CampaignPerMinute))
	numberThrottled.WithLabelValues(num.Namespace, num.Name).Set(throttled)
}

func forgetNumberMetrics(key types.NamespacedName) {
	for _, g := range numberSeries {
		g.DeleteLabelValues(key.Namespace, key.Name)
	}
}
