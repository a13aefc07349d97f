// An ordered map whose copies share their entries, for the configuration snapshot: a change of
// one object in a copy costs a copy of the few entries near it, not of the whole map.
//
// Entries sit in key order in chunks of at most kMaxChunk, each held by a shared pointer. A copy
// of the map copies one pointer per chunk; changing an entry first copies its chunk when another
// map still holds it (copy on write). Lookups and iteration are as std::map's, and a reference to
// an entry stays valid until this map is changed (a map nobody changes, as a published snapshot,
// keeps every reference valid for its life). A map may be changed by one thread at a time;
// copies of it may be read and changed by other threads meanwhile.
#pragma once

#include <algorithm>
#include <atomic>
#include <cstddef>
#include <memory>
#include <stdexcept>
#include <utility>
#include <vector>

namespace config {

template <typename K, typename V>
class SharedMap {
 public:
  using value_type = std::pair<K, V>;
  // Big enough that a copy of the map holds few pointers, small enough that a change copies
  // little (64 numbers with their tags: some tens of microseconds).
  static constexpr size_t kMaxChunk = 64;

 private:
  using Chunk = std::vector<value_type>;
  using Chunks = std::vector<std::shared_ptr<Chunk>>;

 public:
  class const_iterator {
   public:
    using iterator_category = std::forward_iterator_tag;
    using value_type = SharedMap::value_type;
    using difference_type = std::ptrdiff_t;
    using pointer = const value_type*;
    using reference = const value_type&;

    const_iterator() = default;
    reference operator*() const { return (*(*chunks_)[chunk_])[pos_]; }
    pointer operator->() const { return &**this; }
    const_iterator& operator++() {
      if (++pos_ == (*chunks_)[chunk_]->size()) {
        ++chunk_;
        pos_ = 0;
      }
      return *this;
    }
    const_iterator operator++(int) {
      const_iterator old = *this;
      ++*this;
      return old;
    }
    bool operator==(const const_iterator& o) const { return chunk_ == o.chunk_ && pos_ == o.pos_; }

   private:
    friend class SharedMap;
    const_iterator(const Chunks* chunks, size_t chunk, size_t pos)
        : chunks_(chunks), chunk_(chunk), pos_(pos) {}
    const Chunks* chunks_ = nullptr;
    size_t chunk_ = 0;
    size_t pos_ = 0;
  };

  size_t size() const { return size_; }
  bool empty() const { return size_ == 0; }
  const_iterator begin() const { return const_iterator(&chunks_, 0, 0); }
  const_iterator end() const { return const_iterator(&chunks_, chunks_.size(), 0); }

  const_iterator lower_bound(const K& key) const { return Bound(key, false); }
  const_iterator upper_bound(const K& key) const { return Bound(key, true); }
  const_iterator find(const K& key) const {
    const_iterator it = lower_bound(key);
    return it != end() && !(key < it->first) ? it : end();
  }
  size_t count(const K& key) const { return find(key) != end() ? 1 : 0; }
  const V& at(const K& key) const {
    const_iterator it = find(key);
    if (it == end()) throw std::out_of_range("SharedMap::at");
    return it->second;
  }

  // The value under `key`, inserted default-constructed when absent, for changing in place.
  V& operator[](const K& key) {
    auto [c, pos] = Slot(key);
    Chunk& chunk = *chunks_[c];
    if (pos == chunk.size() || key < chunk[pos].first) {
      chunk.insert(chunk.begin() + static_cast<std::ptrdiff_t>(pos), value_type(key, V{}));
      ++size_;
      return Split(c, pos);
    }
    return chunk[pos].second;
  }
  // Inserts unless `key` is there already; true when it inserted.
  bool emplace(K key, V value) {
    if (find(key) != end()) return false;
    (*this)[key] = std::move(value);
    return true;
  }
  void insert_or_assign(const K& key, V value) { (*this)[key] = std::move(value); }
  // Removes the entry under `key`; how many it removed (0 or 1).
  size_t erase(const K& key) {
    const_iterator it = find(key);
    if (it == end()) return 0;
    const size_t c = it.chunk_;
    Chunk& chunk = Own(c);
    chunk.erase(chunk.begin() + static_cast<std::ptrdiff_t>(it.pos_));
    --size_;
    if (chunk.empty()) {
      chunks_.erase(chunks_.begin() + static_cast<std::ptrdiff_t>(c));
    } else if (c + 1 < chunks_.size() && chunk.size() + chunks_[c + 1]->size() <= kMaxChunk / 2) {
      // Keeps chunks from thinning out as entries go: a small chunk takes its next neighbour in.
      const Chunk& next = *chunks_[c + 1];
      chunk.insert(chunk.end(), next.begin(), next.end());
      chunks_.erase(chunks_.begin() + static_cast<std::ptrdiff_t>(c + 1));
    }
    return 1;
  }
  void clear() {
    chunks_.clear();
    size_ = 0;
  }

  bool operator==(const SharedMap& o) const {
    return size_ == o.size_ && std::equal(begin(), end(), o.begin());
  }

 private:
  // The first position whose key is not less than `key` (or, with `after`, greater than it).
  const_iterator Bound(const K& key, bool after) const {
    // The chunks are in key order: the first whose last key is at or past the bound.
    auto before = [&](const std::shared_ptr<Chunk>& c) {
      return after ? !(key < c->back().first) : c->back().first < key;
    };
    const auto c = std::partition_point(chunks_.begin(), chunks_.end(), before) - chunks_.begin();
    if (static_cast<size_t>(c) == chunks_.size()) return end();
    const Chunk& chunk = *chunks_[static_cast<size_t>(c)];
    auto less = [](const value_type& e, const K& k) { return e.first < k; };
    auto greater = [](const K& k, const value_type& e) { return k < e.first; };
    auto p = after ? std::upper_bound(chunk.begin(), chunk.end(), key, greater)
                   : std::lower_bound(chunk.begin(), chunk.end(), key, less);
    return const_iterator(&chunks_, static_cast<size_t>(c), static_cast<size_t>(p - chunk.begin()));
  }

  // The chunk where `key` is or belongs, made this map's own, and the position there.
  std::pair<size_t, size_t> Slot(const K& key) {
    if (chunks_.empty()) {
      chunks_.push_back(std::make_shared<Chunk>());
      return {0, 0};
    }
    const_iterator it = lower_bound(key);
    // A key past every other goes at the end of the last chunk.
    const size_t c = it == end() ? chunks_.size() - 1 : it.chunk_;
    Chunk& chunk = Own(c);
    return {c, it == end() ? chunk.size() : it.pos_};
  }

  // Chunk `c`, copied first if another map holds it too.
  Chunk& Own(size_t c) {
    std::shared_ptr<Chunk>& p = chunks_[c];
    if (p.use_count() == 1) {
      // Every other holder has let go; their last reads of it happen before our writes (the
      // release of their count, paired with this acquire).
      std::atomic_thread_fence(std::memory_order_acquire);
      return *p;
    }
    p = std::make_shared<Chunk>(*p);
    return *p;
  }

  // After an insert at `pos` of `chunk`: splits the chunk in two when it has grown past
  // kMaxChunk, and returns the inserted value where it now is.
  V& Split(size_t c, size_t pos) {
    Chunk* chunk = chunks_[c].get();
    if (chunk->size() <= kMaxChunk) return (*chunk)[pos].second;
    const size_t half = chunk->size() / 2;
    auto tail = std::make_shared<Chunk>(std::make_move_iterator(chunk->begin() + half),
                                        std::make_move_iterator(chunk->end()));
    chunk->erase(chunk->begin() + static_cast<std::ptrdiff_t>(half), chunk->end());
    Chunk* inserted = pos < half ? chunk : tail.get();
    const size_t at = pos < half ? pos : pos - half;
    chunks_.insert(chunks_.begin() + static_cast<std::ptrdiff_t>(c + 1), std::move(tail));
    return (*inserted)[at].second;
  }

  Chunks chunks_;
  size_t size_ = 0;
};

}  // namespace config
