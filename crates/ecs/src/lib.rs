//! ECS task metadata v4 client, task/container types and derived values.
