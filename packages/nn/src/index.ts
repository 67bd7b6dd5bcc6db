export { Module } from "./module";
