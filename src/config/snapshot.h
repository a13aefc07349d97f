// An immutable, complete view of all configuration, rebuilt whenever it changes and shared by
// pointer: request handling reads it without locks and never parses configuration.
#pragma once

#include <map>
#include <memory>
#include <string>
#include <unordered_map>
#include <vector>

#include "config/model.h"
#include "core/webhook_signature.h"

namespace config {

struct Snapshot {
  Snapshot() = default;
  Snapshot(const Snapshot&) = delete;  // the indexes point into the maps
  Snapshot& operator=(const Snapshot&) = delete;
  Snapshot(Snapshot&&) = default;  // moving a std::map keeps its nodes, so indexes stay valid

  int64_t version = 0;  // the store's configuration version this was built from
  std::map<Id, Account> accounts;
  std::unordered_map<std::string, ApiKey> api_keys_by_hash;
  std::map<Id, Publisher> publishers;
  std::map<Id, Buyer> buyers;
  std::map<Id, Campaign> campaigns;
  std::map<Id, Number> numbers;
  std::map<Id, ConversionGroup> conversion_groups;
  std::map<Id, WebhookGroup> webhook_groups;
  std::map<Id, PublisherKey> publisher_keys;

  // Derived indexes, filled by Index().
  std::unordered_map<std::string, Id> number_by_e164;
  std::unordered_map<std::string, Id> publisher_key_by_hash;
  std::map<Id, std::vector<const ConversionGroup*>> conversion_groups_by_campaign;  // in order
  std::map<Id, std::vector<const WebhookGroup*>> webhook_groups_by_campaign;        // in order
  // The signing keys of each signed group, decoded and keyed once rather than per delivery
  // (a secret that does not decode has none).
  struct WebhookSigners {
    std::unique_ptr<const core::WebhookSigner> current;
    std::unique_ptr<const core::WebhookSigner> previous;  // from before the last rotation
  };
  std::map<Id, WebhookSigners> webhook_signers;

  // Rebuilds the derived indexes; call after filling the maps.
  void Index();
  // A copy of the version and every map of objects, to change and then Index(): a change of
  // one object costs copies of the objects, not a load of the whole configuration again.
  std::shared_ptr<Snapshot> Clone() const;
  // Removes the object with this id, whatever its kind (the stored objects share one id
  // sequence).
  void Erase(Id id);

  // The object with this id in this account, or nullptr (another account's object is absent).
  template <typename T>
  static const T* Find(const std::map<Id, T>& m, Id account_id, Id id) {
    auto it = m.find(id);
    return it != m.end() && it->second.account_id == account_id ? &it->second : nullptr;
  }
  const Account* FindAccount(Id id) const {
    auto it = accounts.find(id);
    return it == accounts.end() ? nullptr : &it->second;
  }
  const Number* FindNumber(const std::string& e164) const;
  const PublisherKey* FindPublisherKey(const std::string& hash) const;
  const std::vector<const ConversionGroup*>& ConversionGroupsOf(Id campaign_id) const;
  const std::vector<const WebhookGroup*>& WebhookGroupsOf(Id campaign_id) const;
  // The prepared keys of `group` when it is this snapshot's own object (not a copy that may
  // have changed since); nullptr otherwise.
  const WebhookSigners* SignersOf(const WebhookGroup& group) const;
};

using SnapshotPtr = std::shared_ptr<const Snapshot>;

}  // namespace config
