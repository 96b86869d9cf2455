import { createApp } from "vue";
import App from "./App.vue";
import "./style.css";
import "./review.css";
import "./bias.css";

createApp(App).mount("#app");
