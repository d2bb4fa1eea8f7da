# EventLog consumer loop (src/core/events/*).
target_sources(lt_core PRIVATE events/event_consumer.cpp events/broadcast_bridge.cpp)
