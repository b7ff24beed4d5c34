//! Integration tests for usercom-mock over real HTTP on 127.0.0.1:0 (one binary, one server per
//! test).

mod support;

mod admin;
mod auth_errors;
mod binary;
mod coercion;
mod companies;
mod concurrency;
mod dashboard;
mod dashboard_hostile;
mod events;
mod faults;
mod logs;
mod openapi;
mod persistence;
mod security;
mod strict;
mod users;
