#include "config/snapshot.h"

#include <algorithm>

namespace config {

namespace {

Snapshot::WebhookSigners SignersFor(const WebhookGroup& g) {
  Snapshot::WebhookSigners signers;
  if (auto k = core::WebhookSigner::FromSecret(g.signing_secret)) signers.current = std::move(*k);
  if (!g.previous_secret.empty()) {
    if (auto k = core::WebhookSigner::FromSecret(g.previous_secret)) {
      signers.previous = std::move(*k);
    }
  }
  return signers;
}

// Removes object `id` from `objects`, and its entry in `index` (under key_of(object)) when that
// entry is the object's.
template <typename T, typename KeyOf>
void EraseIndexed(SharedMap<Id, T>& objects, SharedMap<std::string, Id>& index, Id id,
                  KeyOf key_of) {
  auto it = objects.find(id);
  if (it == objects.end()) return;
  const std::string& key = key_of(it->second);
  if (auto e = index.find(key); e != index.end() && e->second == id) index.erase(key);
  objects.erase(id);
}

}  // namespace

void Snapshot::Index() {
  number_by_e164.clear();
  for (const auto& [id, n] : numbers) number_by_e164[n.number] = id;
  publisher_key_by_hash.clear();
  for (const auto& [id, k] : publisher_keys) publisher_key_by_hash[k.hash] = id;
  webhook_signers.clear();
  for (const auto& [id, g] : webhook_groups) {
    if (g.sign) webhook_signers[id] = SignersFor(g);
  }
  IndexGroups();
}

void Snapshot::IndexGroups() {
  conversion_groups_by_campaign.clear();
  for (const auto& [id, g] : conversion_groups) {
    conversion_groups_by_campaign[g.campaign_id].push_back(&g);
  }
  webhook_groups_by_campaign.clear();
  for (const auto& [id, g] : webhook_groups)
    webhook_groups_by_campaign[g.campaign_id].push_back(&g);
  auto by_position = [](const auto* a, const auto* b) {
    return a->position != b->position ? a->position < b->position : a->id < b->id;
  };
  for (auto& [campaign, groups] : conversion_groups_by_campaign) {
    std::stable_sort(groups.begin(), groups.end(), by_position);
  }
  for (auto& [campaign, groups] : webhook_groups_by_campaign) {
    std::stable_sort(groups.begin(), groups.end(), by_position);
  }
}

std::shared_ptr<Snapshot> Snapshot::Clone() const {
  auto out = std::make_shared<Snapshot>();
  out->version = version;
  out->accounts = accounts;
  out->api_keys_by_hash = api_keys_by_hash;
  out->publishers = publishers;
  out->buyers = buyers;
  out->campaigns = campaigns;
  out->numbers = numbers;
  out->conversion_groups = conversion_groups;
  out->webhook_groups = webhook_groups;
  out->publisher_keys = publisher_keys;
  out->number_by_e164 = number_by_e164;
  out->publisher_key_by_hash = publisher_key_by_hash;
  out->webhook_signers = webhook_signers;
  return out;
}

void Snapshot::Put(Number o) {
  Erase(o.id);
  number_by_e164[o.number] = o.id;
  numbers.insert_or_assign(o.id, std::move(o));
}

void Snapshot::Put(WebhookGroup o) {
  Erase(o.id);
  if (o.sign) webhook_signers[o.id] = SignersFor(o);
  webhook_groups.insert_or_assign(o.id, std::move(o));
}

void Snapshot::Put(PublisherKey o) {
  Erase(o.id);
  publisher_key_by_hash[o.hash] = o.id;
  publisher_keys.insert_or_assign(o.id, std::move(o));
}

void Snapshot::Erase(Id id) {
  publishers.erase(id);
  buyers.erase(id);
  campaigns.erase(id);
  EraseIndexed(numbers, number_by_e164, id,
               [](const Number& n) -> const std::string& { return n.number; });
  conversion_groups.erase(id);
  webhook_groups.erase(id);
  webhook_signers.erase(id);
  EraseIndexed(publisher_keys, publisher_key_by_hash, id,
               [](const PublisherKey& k) -> const std::string& { return k.hash; });
}

const PublisherKey* Snapshot::FindPublisherKey(const std::string& hash) const {
  auto it = publisher_key_by_hash.find(hash);
  return it == publisher_key_by_hash.end() ? nullptr : &publisher_keys.at(it->second);
}

const Number* Snapshot::FindNumber(const std::string& e164) const {
  auto it = number_by_e164.find(e164);
  return it == number_by_e164.end() ? nullptr : &numbers.at(it->second);
}

const std::vector<const WebhookGroup*>& Snapshot::WebhookGroupsOf(Id campaign_id) const {
  static const std::vector<const WebhookGroup*> kNone;
  auto it = webhook_groups_by_campaign.find(campaign_id);
  return it == webhook_groups_by_campaign.end() ? kNone : it->second;
}

const Snapshot::WebhookSigners* Snapshot::SignersOf(const WebhookGroup& group) const {
  auto g = webhook_groups.find(group.id);
  if (g == webhook_groups.end() || &g->second != &group) return nullptr;
  auto it = webhook_signers.find(group.id);
  return it == webhook_signers.end() ? nullptr : &it->second;
}

const std::vector<const ConversionGroup*>& Snapshot::ConversionGroupsOf(Id campaign_id) const {
  static const std::vector<const ConversionGroup*> kNone;
  auto it = conversion_groups_by_campaign.find(campaign_id);
  return it == conversion_groups_by_campaign.end() ? kNone : it->second;
}

}  // namespace config
