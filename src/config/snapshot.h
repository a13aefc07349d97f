// An immutable, complete view of all configuration, replaced whenever it changes and shared by
// pointer: request handling reads it without locks and never parses configuration. A change
// makes a new snapshot from a copy of the current one, and copies share the objects they have in
// common (config/shared_map.h), so a change costs about the objects it touches.
#pragma once

#include <map>
#include <memory>
#include <string>
#include <unordered_map>
#include <vector>

#include "config/model.h"
#include "config/shared_map.h"
#include "core/webhook_signature.h"

namespace config {

struct Snapshot {
  Snapshot() = default;
  Snapshot(const Snapshot&) = delete;  // the group indexes point into the maps
  Snapshot& operator=(const Snapshot&) = delete;
  Snapshot(Snapshot&&) = default;  // moving a map keeps its entries, so indexes stay valid

  int64_t version = 0;  // the store's configuration version this was built from
  std::map<Id, Account> accounts;
  std::unordered_map<std::string, ApiKey> api_keys_by_hash;
  SharedMap<Id, Publisher> publishers;
  SharedMap<Id, Buyer> buyers;
  SharedMap<Id, Campaign> campaigns;
  SharedMap<Id, Number> numbers;
  SharedMap<Id, ConversionGroup> conversion_groups;
  SharedMap<Id, WebhookGroup> webhook_groups;
  SharedMap<Id, PublisherKey> publisher_keys;

  // Derived indexes: Index() builds them all from the maps; Put() and Erase() keep the first
  // three, and IndexGroups() builds the two lists of groups.
  SharedMap<std::string, Id> number_by_e164;
  SharedMap<std::string, Id> publisher_key_by_hash;
  // The signing keys of each signed group, decoded and keyed once rather than per delivery
  // (a secret that does not decode has none).
  struct WebhookSigners {
    std::shared_ptr<const core::WebhookSigner> current;
    std::shared_ptr<const core::WebhookSigner> previous;  // from before the last rotation
  };
  SharedMap<Id, WebhookSigners> webhook_signers;
  std::map<Id, std::vector<const ConversionGroup*>> conversion_groups_by_campaign;  // in order
  std::map<Id, std::vector<const WebhookGroup*>> webhook_groups_by_campaign;        // in order

  // Builds every derived index; call after filling the maps directly.
  void Index();
  // Builds the lists of each campaign's groups, which point into the maps; call after changing
  // a copy (Clone) with Put() and Erase().
  void IndexGroups();
  // A copy of the version, the accounts and API keys, every map of objects and the indexes Put()
  // keeps, sharing the objects with this snapshot: to change with Put() and Erase(), then
  // IndexGroups().
  std::shared_ptr<Snapshot> Clone() const;
  // Puts the object in its map, in place of the one with its id, and keeps the indexes.
  void Put(Publisher o) { publishers.insert_or_assign(o.id, std::move(o)); }
  void Put(Buyer o) { buyers.insert_or_assign(o.id, std::move(o)); }
  void Put(Campaign o) { campaigns.insert_or_assign(o.id, std::move(o)); }
  void Put(ConversionGroup o) { conversion_groups.insert_or_assign(o.id, std::move(o)); }
  void Put(Number o);
  void Put(WebhookGroup o);
  void Put(PublisherKey o);
  // Removes the object with this id, whatever its kind (the stored objects share one id
  // sequence), and keeps the indexes.
  void Erase(Id id);

  // The object with this id in this account, or nullptr (another account's object is absent).
  template <typename T>
  static const T* Find(const SharedMap<Id, T>& m, Id account_id, Id id) {
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
