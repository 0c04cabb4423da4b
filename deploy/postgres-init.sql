-- One database per service: services never share tables.
CREATE DATABASE catalogue;
CREATE DATABASE search;
CREATE DATABASE allocation;
CREATE DATABASE notifier;
CREATE DATABASE guidance;
CREATE DATABASE console;
