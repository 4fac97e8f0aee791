package main

import (
	"github.com/prometheus/client_golang/prometheus"

	"github.com/focussync/focussync/daemon"
)

// leaseCollector exports each folder's task lease (the [cluster] coordinator):
// the role, the age of the holder's lease and the takeovers so far.
type leaseCollector struct {
	src                   func() daemon.Status
	holder, age, takeover *prometheus.Desc
}

var _ prometheus.Collector = (*leaseCollector)(nil)

func newLeaseCollector(src func() daemon.Status) *leaseCollector {
	labels := []string{"folder", "task_id"}
	return &leaseCollector{
		src: src,
		holder: prometheus.NewDesc(metricsNamespace+"_lease_holder",
			"1 while this process holds the task's lease and may write; 0 while a standby (or paused). Absent without a coordinator.",
			append(labels, "role", "holder_node"), nil),
		age: prometheus.NewDesc(metricsNamespace+"_lease_age_seconds",
			"How long the current holder has held the task's lease, as seen by this process.", labels, nil),
		takeover: prometheus.NewDesc(metricsNamespace+"_lease_takeovers",
			"How often the task's lease passed from a holder that had not released it to another process.", labels, nil),
	}
}

// Describe implements prometheus.Collector.
func (c *leaseCollector) Describe(ch chan<- *prometheus.Desc) {
	ch <- c.holder
	ch <- c.age
	ch <- c.takeover
}

// Collect implements prometheus.Collector.
func (c *leaseCollector) Collect(ch chan<- prometheus.Metric) {
	for _, f := range c.src().Folders {
		l := f.Lease
		if l == nil {
			continue
		}
		task := itoa(f.Task)
		ch <- prometheus.MustNewConstMetric(c.holder, prometheus.GaugeValue, bool01(l.Role == "holder"), f.Path, task, l.Role, l.Holder)
		ch <- prometheus.MustNewConstMetric(c.age, prometheus.GaugeValue, l.AgeSeconds, f.Path, task)
		ch <- prometheus.MustNewConstMetric(c.takeover, prometheus.GaugeValue, float64(l.Takeovers), f.Path, task)
	}
}
