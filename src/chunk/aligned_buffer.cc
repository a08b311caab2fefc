#include "chunk/aligned_buffer.h"

#include <bit>
#include <cstdlib>
#include <cstring>
#include <mutex>
#include <new>
#include <utility>
#include <vector>

namespace cairn {
namespace {

constexpr size_t kMinCached = size_t{256} << 10;   // smaller: plain malloc is cheap
constexpr size_t kMaxCached = size_t{64} << 20;    // the largest chunk
constexpr size_t kCacheLimit = size_t{128} << 20;  // bytes kept in total
constexpr size_t kPerClass = 8;                    // buffers kept per size class
constexpr int kClasses = 9;                        // 256 KiB .. 64 MiB, powers of two

int ClassOf(size_t capacity) { return std::countr_zero(capacity) - std::countr_zero(kMinCached); }

struct Cache {
  std::mutex mu;
  std::vector<void*> free[kClasses];  // guarded by mu
  size_t bytes = 0;                   // guarded by mu
};

Cache& TheCache() {
  static Cache* cache = new Cache();  // never destroyed: buffers may die at exit
  return *cache;
}

}  // namespace

AlignedBuffer::AlignedBuffer(size_t size) : size_(size) {
  if (size == 0) return;
  capacity_ = (size + kAlignment - 1) / kAlignment * kAlignment;
  if (capacity_ >= kMinCached && capacity_ <= kMaxCached) {
    capacity_ = std::bit_ceil(capacity_);
    Cache& c = TheCache();
    std::lock_guard<std::mutex> l(c.mu);
    auto& list = c.free[ClassOf(capacity_)];
    if (!list.empty()) {
      data_ = static_cast<uint8_t*>(list.back());
      list.pop_back();
      c.bytes -= capacity_;
      return;
    }
  }
  void* p = std::aligned_alloc(kAlignment, capacity_);
  if (p == nullptr) throw std::bad_alloc();
  data_ = static_cast<uint8_t*>(p);
}

void AlignedBuffer::Release() {
  if (data_ == nullptr) return;
  if (capacity_ >= kMinCached && capacity_ <= kMaxCached && std::has_single_bit(capacity_)) {
    Cache& c = TheCache();
    std::lock_guard<std::mutex> l(c.mu);
    auto& list = c.free[ClassOf(capacity_)];
    if (list.size() < kPerClass && c.bytes + capacity_ <= kCacheLimit) {
      list.push_back(data_);
      c.bytes += capacity_;
      data_ = nullptr;
      return;
    }
  }
  std::free(data_);
  data_ = nullptr;
}

AlignedBuffer::~AlignedBuffer() { Release(); }

AlignedBuffer::AlignedBuffer(AlignedBuffer&& other) noexcept
    : data_(std::exchange(other.data_, nullptr)),
      size_(std::exchange(other.size_, 0)),
      capacity_(std::exchange(other.capacity_, 0)) {}

AlignedBuffer& AlignedBuffer::operator=(AlignedBuffer&& other) noexcept {
  if (this != &other) {
    Release();
    data_ = std::exchange(other.data_, nullptr);
    size_ = std::exchange(other.size_, 0);
    capacity_ = std::exchange(other.capacity_, 0);
  }
  return *this;
}

AlignedBuffer AlignedBuffer::CopyOf(std::span<const uint8_t> bytes) {
  AlignedBuffer b(bytes.size());
  if (!bytes.empty()) std::memcpy(b.data(), bytes.data(), bytes.size());
  return b;
}

}  // namespace cairn
