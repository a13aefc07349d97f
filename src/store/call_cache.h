// The SQLite writer's cache of recently used calls. A unit of work reads the call it changes
// and usually changes one the units just before it touched (an event, then a postback, then
// the deadline): the writer keeps the last calls it read or saved, so that reading one is a
// copy instead of two statements and a row decode. Internal to store/.
//
// It is written through: every save goes to the database and to the cache. The database is the
// truth; the cache is only ever equal to it or missing an entry. What a unit saved is forgotten
// when the unit is undone (RollbackUnit), and everything when a group is (Clear) or when another
// connection has written to the file since the writer's last group (PRAGMA data_version, read
// under the write lock at the start of each group). A store shared by several nodes has none.
#pragma once

#include <cstddef>
#include <list>
#include <string>
#include <unordered_map>
#include <vector>

#include "engine/call.h"

namespace store {

class CallCache {
 public:
  explicit CallCache(size_t capacity) : capacity_(capacity) {}

  // The cached call with this UUID, or nullptr. Marks it most recently used.
  const engine::Call* Find(const std::string& uuid) {
    auto it = index_.find(uuid);
    if (it == index_.end()) return nullptr;
    order_.splice(order_.begin(), order_, it->second);
    return &*it->second;
  }

  // Remembers `call` as read from the database.
  void Put(const engine::Call& call) { Store(call); }

  // Remembers `call` as the current unit saved it (forgotten if the unit is undone).
  void PutSaved(const engine::Call& call) {
    Store(call);
    saved_in_unit_.push_back(call.uuid);
  }

  // The current unit saved only the last `added` tags of `call`: its other fields keep what was
  // read, and the cached tags (the ones before those, as read) get the new ones appended rather
  // than every tag copied again (a call's tags grow with every postback).
  void PutSavedTags(const engine::Call& call, size_t added) {
    auto it = index_.find(call.uuid);
    if (it == index_.end()) return;
    auto& tags = it->second->tags;
    if (added <= call.tags.size() && tags.size() == call.tags.size() - added) {
      tags.insert(tags.end(), call.tags.end() - static_cast<std::ptrdiff_t>(added),
                  call.tags.end());
    } else {
      tags = call.tags;
    }
    saved_in_unit_.push_back(call.uuid);
  }

  void BeginUnit() { saved_in_unit_.clear(); }
  void RollbackUnit() {
    for (const auto& uuid : saved_in_unit_) Erase(uuid);
    saved_in_unit_.clear();
  }
  void Clear() {
    index_.clear();
    order_.clear();
    saved_in_unit_.clear();
  }

  size_t size() const { return index_.size(); }

 private:
  void Store(const engine::Call& call) {
    if (capacity_ == 0) return;
    if (auto it = index_.find(call.uuid); it != index_.end()) {
      *it->second = call;
      order_.splice(order_.begin(), order_, it->second);
      return;
    }
    if (index_.size() >= capacity_) {
      index_.erase(order_.back().uuid);
      order_.pop_back();
    }
    order_.push_front(call);
    index_.emplace(call.uuid, order_.begin());
  }
  void Erase(const std::string& uuid) {
    if (auto it = index_.find(uuid); it != index_.end()) {
      order_.erase(it->second);
      index_.erase(it);
    }
  }

  const size_t capacity_;
  std::list<engine::Call> order_;  // most recently used first
  std::unordered_map<std::string, std::list<engine::Call>::iterator> index_;
  std::vector<std::string> saved_in_unit_;
};

}  // namespace store
