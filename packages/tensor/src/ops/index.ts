export * from "./batchnorm";
export * from "./conv";
export * from "./create";
export * from "./elementwise";
export * from "./linalg";
export * from "./reduce";
export * from "./shape_ops";
export * from "./sort";
