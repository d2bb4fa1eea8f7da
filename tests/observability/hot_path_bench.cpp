// Hot-path cost of metrics (run by hand, not by ctest): ns per operation, and under callgrind the
// instructions of each noinline function (`valgrind --tool=callgrind build/tests/observability_bench`,
// then `callgrind_annotate --inclusive=yes callgrind.out.*`).
#include <chrono>
#include <cstdio>
#include <string>

#include "lt/core/metrics.hpp"

namespace {

constexpr int kIterations = 1'000'000;

[[gnu::noinline]] void lookup_each_time(lt::CounterFamily& f, const std::string& provider) {
    for (int i = 0; i < kIterations; ++i) f.labels({provider, "allowed"}).inc();
}

[[gnu::noinline]] void lookup_vector_of_strings(lt::CounterFamily& f, const std::string& provider) {
    // The shape of the calls before this change: a vector of strings built per request.
    for (int i = 0; i < kIterations; ++i) f.labels(std::vector<std::string>{provider, "allowed"}).inc();
}

[[gnu::noinline]] void pre_resolved(lt::Counter& c) {
    for (int i = 0; i < kIterations; ++i) c.inc();
}

[[gnu::noinline]] void histogram_observe(lt::Histogram& h) {
    for (int i = 0; i < kIterations; ++i) h.observe(0.0003 * (i % 100));
}

[[gnu::noinline]] void clock_pair() {
    double sink = 0;
    for (int i = 0; i < kIterations; ++i) {
        auto a = std::chrono::steady_clock::now();
        auto b = std::chrono::steady_clock::now();
        sink += std::chrono::duration<double>(b - a).count();
    }
    std::printf("(clock sink %g)\n", sink > 0 ? 1.0 : 0.0);
}

template <class F>
void time_it(const char* name, F f) {
    const auto start = std::chrono::steady_clock::now();
    f();
    const auto ns = std::chrono::duration<double, std::nano>(std::chrono::steady_clock::now() - start).count();
    std::printf("%-40s %8.1f ns/op\n", name, ns / kIterations);
}

}  // namespace

int main() {
    lt::MetricsRegistry r;
    auto& f = r.counter("token_consume_total", "x", {"provider", "outcome"});
    for (const char* p : {"openai", "qwen", "gemini"}) {
        for (const char* o : {"allowed", "rate_limited", "quota_insufficient", "provider_failure", "error"}) {
            f.labels({p, o});
        }
    }
    const std::string provider = "qwen";
    auto& child = f.labels({"qwen", "allowed"});
    auto& h = r.histogram("store_kv_call_seconds", "x", {"op", "outcome"}).labels({"get", "ok"});
    time_it("labels({view,view}).inc() (shared lock)", [&] { lookup_each_time(f, provider); });
    time_it("labels(vector<string>).inc() (old shape)", [&] { lookup_vector_of_strings(f, provider); });
    time_it("pre-resolved child .inc()", [&] { pre_resolved(child); });
    time_it("histogram .observe()", [&] { histogram_observe(h); });
    time_it("two steady_clock::now() (store timing)", [&] { clock_pair(); });
    return 0;
}
