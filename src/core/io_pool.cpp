#include "lt/core/io_pool.hpp"

namespace lt {

IoPool::IoPool(std::size_t threads) {
    if (threads == 0) threads = 1;
    for (std::size_t i = 0; i < threads; ++i) {
        contexts_.push_back(std::make_unique<boost::asio::io_context>(1));
        guards_.push_back(boost::asio::make_work_guard(*contexts_.back()));
    }
}

IoPool::~IoPool() {
    stop();
    join();
}

boost::asio::io_context& IoPool::next() { return *contexts_[next_.fetch_add(1, std::memory_order_relaxed) % contexts_.size()]; }

void IoPool::run() {
    for (auto& c : contexts_) {
        auto* ctx = c.get();
        threads_.emplace_back([ctx] { ctx->run(); });
    }
}

void IoPool::stop() {
    for (auto& g : guards_) g.reset();
    for (auto& c : contexts_) c->stop();
}

void IoPool::join() {
    for (auto& t : threads_) {
        if (t.joinable() && t.get_id() != std::this_thread::get_id()) t.join();
    }
    threads_.clear();
}

}  // namespace lt
