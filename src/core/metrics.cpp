#include "core/metrics.hpp"

#include <fmt/format.h>

namespace tocsin {

namespace {
std::string EscapeLabel(const std::string& v) {
  std::string out;
  for (char c : v) {
    if (c == '\\' || c == '"') out += '\\';
    if (c == '\n') {
      out += "\\n";
      continue;
    }
    out += c;
  }
  return out;
}
}  // namespace

std::atomic<double>& MetricFamily::Series(const std::vector<std::string>& labels) {
  std::lock_guard lock(mu_);
  auto& slot = series_[labels];
  if (!slot) slot = std::make_unique<std::atomic<double>>(0);
  return *slot;
}

void MetricFamily::Add(const std::vector<std::string>& labels, double delta) {
  auto& s = Series(labels);
  double cur = s.load();
  while (!s.compare_exchange_weak(cur, cur + delta)) {
  }
}

void MetricFamily::Set(const std::vector<std::string>& labels, double value) {
  Series(labels).store(value);
}

double MetricFamily::Get(const std::vector<std::string>& labels) const {
  std::lock_guard lock(mu_);
  auto it = series_.find(labels);
  return it == series_.end() ? 0 : it->second->load();
}

void MetricFamily::Render(std::string* out) const {
  *out += fmt::format("# HELP {} {}\n# TYPE {} {}\n", name_, help_, name_, type_);
  std::lock_guard lock(mu_);
  for (const auto& [labels, value] : series_) {
    std::string l;
    for (size_t i = 0; i < labels.size() && i < label_names_.size(); ++i) {
      l += fmt::format("{}{}=\"{}\"", i ? "," : "", label_names_[i], EscapeLabel(labels[i]));
    }
    *out += l.empty() ? fmt::format("{} {}\n", name_, value->load())
                      : fmt::format("{}{{{}}} {}\n", name_, l, value->load());
  }
}

MetricFamily& Metrics::Family(const std::string& name, const std::string& help,
                              const std::string& type, std::vector<std::string> labels) {
  std::lock_guard lock(mu_);
  auto& slot = families_[name];
  if (!slot) slot = std::make_unique<MetricFamily>(name, help, type, std::move(labels));
  return *slot;
}

MetricFamily& Metrics::Counter(const std::string& name, const std::string& help,
                               std::vector<std::string> labels) {
  return Family(name, help, "counter", std::move(labels));
}

MetricFamily& Metrics::Gauge(const std::string& name, const std::string& help,
                             std::vector<std::string> labels) {
  return Family(name, help, "gauge", std::move(labels));
}

std::string Metrics::Render() const {
  std::string out;
  std::lock_guard lock(mu_);
  for (const auto& [_, f] : families_) f->Render(&out);
  return out;
}

}  // namespace tocsin
