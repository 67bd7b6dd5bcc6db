// TF.js's gradient registrations ship only as ES modules (the umbrella @tensorflow/tfjs package
// imports them); tfjs-core's Node.js bundle lacks them. Bundled on its own (tsup.config.ts), this
// registers them into TF.js's global gradient registry, which every copy of tfjs-core shares.
import "@tensorflow/tfjs-core/dist/register_all_gradients";
