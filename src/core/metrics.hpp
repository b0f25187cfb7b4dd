// core/metrics.hpp — a small Prometheus registry (counters and gauges with labels).
//
// Families are created once (at start-up) and updated from any thread: each series is an atomic,
// found through a mutex-guarded map only on first use of a label set. Render() produces the
// Prometheus text exposition format for GET /metrics.
#pragma once

#include <atomic>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

namespace tocsin {

class MetricFamily {
 public:
  MetricFamily(std::string name, std::string help, std::string type,
               std::vector<std::string> label_names)
      : name_(std::move(name)), help_(std::move(help)), type_(std::move(type)),
        label_names_(std::move(label_names)) {}

  // Label values in the order of label_names.
  void Add(const std::vector<std::string>& labels, double delta = 1);
  void Set(const std::vector<std::string>& labels, double value);
  double Get(const std::vector<std::string>& labels) const;
  void Render(std::string* out) const;

 private:
  std::atomic<double>& Series(const std::vector<std::string>& labels);

  std::string name_, help_, type_;
  std::vector<std::string> label_names_;
  mutable std::mutex mu_;
  std::map<std::vector<std::string>, std::unique_ptr<std::atomic<double>>> series_;
};

class Metrics {
 public:
  MetricFamily& Counter(const std::string& name, const std::string& help,
                        std::vector<std::string> labels = {});
  MetricFamily& Gauge(const std::string& name, const std::string& help,
                      std::vector<std::string> labels = {});
  std::string Render() const;

 private:
  MetricFamily& Family(const std::string& name, const std::string& help, const std::string& type,
                       std::vector<std::string> labels);
  mutable std::mutex mu_;
  std::map<std::string, std::unique_ptr<MetricFamily>> families_;
};

}  // namespace tocsin
