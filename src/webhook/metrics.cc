#include "webhook/metrics.h"

#include <cstdio>

namespace webhook {

void Metrics::RecordAttempt(store::DeliveryState verdict, std::optional<double> seconds) {
  std::lock_guard lock(mu_);
  switch (verdict) {
    case store::DeliveryState::kDelivered:
      ++delivered_;
      break;
    case store::DeliveryState::kFailed:
      ++failed_;
      break;
    default:
      ++retry_;
  }
  if (seconds) duration_.Observe(*seconds);
}

void Metrics::RecordTaken(bool handed, int64_t n) {
  std::lock_guard lock(mu_);
  (handed ? handed_ : claimed_) += static_cast<uint64_t>(n);
}

void Metrics::Render(std::string& out, int64_t in_flight, int64_t queued,
                     int64_t accounts_waiting) const {
  std::lock_guard lock(mu_);
  char buf[512];
  out += "# HELP callpost_webhook_attempts_total Webhook delivery attempts by outcome.\n";
  out += "# TYPE callpost_webhook_attempts_total counter\n";
  const std::pair<const char*, uint64_t> outcomes[] = {
      {"delivered", delivered_}, {"retry", retry_}, {"failed", failed_}};
  for (const auto& [name, n] : outcomes) {
    std::snprintf(buf, sizeof buf, "callpost_webhook_attempts_total{outcome=\"%s\"} %llu\n", name,
                  static_cast<unsigned long long>(n));
    out += buf;
  }
  out += "# HELP callpost_webhook_attempt_duration_seconds Webhook attempt duration.\n";
  out += "# TYPE callpost_webhook_attempt_duration_seconds histogram\n";
  duration_.Render(out, "callpost_webhook_attempt_duration_seconds");
  out +=
      "# HELP callpost_webhook_taken_total Webhook deliveries taken to send: handed over at"
      " their commit, or claimed from the outbox.\n";
  out += "# TYPE callpost_webhook_taken_total counter\n";
  out += "callpost_webhook_taken_total{how=\"handed\"} " + std::to_string(handed_) + "\n";
  out += "callpost_webhook_taken_total{how=\"claimed\"} " + std::to_string(claimed_) + "\n";
  out += "# HELP callpost_webhook_in_flight Webhook requests being sent.\n";
  out += "# TYPE callpost_webhook_in_flight gauge\n";
  out += "callpost_webhook_in_flight " + std::to_string(in_flight) + "\n";
  out += "# HELP callpost_webhook_queued Claimed webhook deliveries waiting for a per-host slot.\n";
  out += "# TYPE callpost_webhook_queued gauge\n";
  out += "callpost_webhook_queued " + std::to_string(queued) + "\n";
  out +=
      "# HELP callpost_webhook_accounts_waiting Accounts whose due webhook deliveries wait in "
      "the outbox because the account holds its whole share of the dispatcher's places.\n";
  out += "# TYPE callpost_webhook_accounts_waiting gauge\n";
  out += "callpost_webhook_accounts_waiting " + std::to_string(accounts_waiting) + "\n";
}

}  // namespace webhook
